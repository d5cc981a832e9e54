/* The Control UI over HTTP (issue 11): see control_ui.c. */
#ifndef CG_METHODS_CONTROL_UI_H
#define CG_METHODS_CONTROL_UI_H

#include "gateway/gateway.h"

/* Registers the UI's routes under gateway.controlUi.basePath (read now; a new base
 * path takes a restart). */
void cg_methods_control_ui_attach(cg_gateway *gw);

#endif
