/* browser.request (src/methods/browser.c): browser control through the gateway. */
#ifndef CG_METHODS_BROWSER_H
#define CG_METHODS_BROWSER_H

#include "gateway/gateway.h"

extern const cg_method cg_methods_browser[];

/* Sets up the browser controller (Chromium is launched on first use) as gateway data;
 * after cg_methods_nodes_attach (browser.request may relay to a node). */
void cg_methods_browser_attach(cg_gateway *gw);

#endif
