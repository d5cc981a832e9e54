/* `clawgate onboard [--state-dir DIR] [--config FILE] [--workspace DIR]`: the onboarding
 * wizard (wizard/wizard.h) in the terminal, writing the config file directly: no
 * gateway needs to run. */
#ifndef CG_CLI_ONBOARD_H
#define CG_CLI_ONBOARD_H

/* argv[0] is "onboard". Returns the process exit code: 0 when the configuration was
 * written, 1 when the wizard was cancelled (EOF too) or failed, 2 for bad arguments. */
int cg_cli_onboard(int argc, char **argv);

#endif
