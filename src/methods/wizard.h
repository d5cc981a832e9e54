/* The wizard.* methods (src/methods/wizard.c): the onboarding wizard over the gateway. */
#ifndef CG_METHODS_WIZARD_H
#define CG_METHODS_WIZARD_H

#include "gateway/gateway.h"

/* Sets up the wizard's host (one session at a time, its key-check HTTP client). */
void cg_methods_wizard_attach(cg_gateway *gw);

#endif
