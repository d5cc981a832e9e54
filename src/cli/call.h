/* `clawgate call METHOD [--url URL] [--token T | --password P] [--params JSON]
 * [--scopes a,b] [--timeout MS] [--port N] [--json] [--state-dir DIR]`: one gateway
 * request from the command line, like `openclaw gateway call`.
 *
 * Output is always JSON: the result payload (indented) on stdout and exit 0, or
 * {"ok":false,"error":{...}} on stdout and exit 1 for any failure (bad arguments, an
 * unreachable or closed gateway: UNAVAILABLE NOT_CONNECTED, a timeout: UNAVAILABLE
 * TIMEOUT, or the gateway's own error as received). */
#ifndef CG_CLI_CALL_H
#define CG_CLI_CALL_H

/* argv[0] is "call". Returns the process exit code. */
int cg_cli_call(int argc, char **argv);

#endif
