/* clawgate: the OpenClaw gateway as one native binary.
 *
 *   clawgate run [--port N] [--bind loopback|lan|all|auto|custom|tailnet]
 *                [--auth none|token|password] [--token T] [--password P]
 *                [--state-dir DIR] [--config FILE] [--allow-unconfigured]
 *   clawgate call METHOD [--url URL] [--token T|--password P] [--params JSON] ...
 *   clawgate onboard [--state-dir DIR] [--config FILE] [--workspace DIR]
 *   clawgate methods [--markdown]
 *   clawgate version */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include <uv.h>

#include "cli/call.h"
#include "cli/onboard.h"
#include "common/json_budget.h"
#include "common/log.h"
#include "config/config.h"
#include "gateway/gateway.h"
#include "gateway/methods.h"
#include "methods/browser.h"
#include "methods/channels.h"
#include "methods/control_ui.h"
#include "methods/cron.h"
#include "methods/exec_approvals.h"
#include "methods/hooks.h"
#include "methods/logs.h"
#include "methods/models.h"
#include "methods/nodes.h"
#include "methods/openai_http.h"
#include "methods/runs.h"
#include "methods/sessions.h"
#include "methods/skills.h"
#include "methods/wizard.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: clawgate run [--port N] [--bind loopback|lan|all|auto|custom|tailnet]\n"
               "                    [--auth none|token|password] [--token T] [--password P]\n"
               "                    [--state-dir DIR] [--config FILE]\n"
               "       clawgate call METHOD [--url URL] [--token T | --password P]\n"
               "                    [--params JSON] [--scopes a,b] [--timeout MS] [--json]\n"
               "       clawgate onboard [--state-dir DIR] [--config FILE] [--workspace DIR]\n"
               "       clawgate methods [--markdown]\n"
               "       clawgate version\n");
}

static void raise_fd_limit(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

/* Where to connect, and how: what `make run` shows a person. */
static void print_listening(cg_gateway *gw)
{
    json_t *urls = cg_gateway_listen_urls(gw);
    size_t i;
    json_t *url;
    json_array_foreach(urls, i, url) printf("listening on %s\n", json_string_value(url));
    const char *first = json_string_value(json_array_get(urls, 0));
    cg_auth_mode mode = cg_gateway_settings(gw)->auth_mode;
    if (first)
        printf("call it: clawgate call health --url %s%s\n", first,
               mode == CG_AUTH_NONE       ? ""
               : mode == CG_AUTH_PASSWORD ? " --password <gateway password>"
                                          : " --token <gateway token>");
    fflush(stdout);
    json_decref(urls);
}

static int cmd_run(int argc, char **argv)
{
    static const struct option opts[] = {
        {"port", required_argument, 0, 'p'},     {"bind", required_argument, 0, 'b'},
        {"auth", required_argument, 0, 'a'},     {"token", required_argument, 0, 't'},
        {"password", required_argument, 0, 'P'}, {"state-dir", required_argument, 0, 's'},
        {"config", required_argument, 0, 'c'},   {"allow-unconfigured", no_argument, 0, 'u'},
        {"help", no_argument, 0, 'h'},           {0, 0, 0, 0},
    };
    cg_overrides ov = {0};
    int ch;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (ch) {
        case 'p': {
            char *end;
            long port = strtol(optarg, &end, 10);
            if (*end || port < 1 || port > 65535) {
                fprintf(stderr, "clawgate: --port must be 1-65535\n");
                return 2;
            }
            ov.port = (int)port;
            break;
        }
        case 'b':
            ov.bind = optarg;
            break;
        case 'a':
            ov.auth_mode = optarg;
            break;
        case 't':
            ov.token = optarg;
            break;
        case 'P':
            ov.password = optarg;
            break;
        case 's':
            ov.state_dir = optarg;
            break;
        case 'c':
            ov.config_path = optarg;
            break;
        case 'u':
            break; /* accepted for openclaw compatibility */
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    raise_fd_limit();
    cg_json_budget_install();
    char err[512] = "";
    cg_config *cfg = cg_config_new(&ov, err, sizeof err);
    if (!cfg) {
        fprintf(stderr, "clawgate: %s\n", err);
        return 1;
    }
    if (cg_log_open(cg_config_state_dir(cfg), CG_LOG_DEFAULT_MAX_BYTES) != 0)
        fprintf(stderr, "clawgate: cannot open the log under %s/logs\n", cg_config_state_dir(cfg));
    char *generated = NULL;
    if (cg_config_load(cfg, &generated, err, sizeof err) != 0) {
        cg_log(CG_LOG_ERROR, "config", "invalid configuration", json_pack("{s:s}", "error", err));
        fprintf(stderr, "clawgate: %s\n", err);
        cg_config_free(cfg);
        cg_log_close();
        return 1;
    }
    cg_log_set_max_file_bytes(cg_config_settings(cfg)->log_max_file_bytes);
    if (generated) {
        printf("gateway token: %s\n", generated);
        fflush(stdout);
        free(generated);
    }
    cg_log(CG_LOG_INFO, "gateway", "starting",
           json_pack("{s:s, s:s, s:s}", "version", CLAWGATE_VERSION, "stateDir",
                     cg_config_state_dir(cfg), "config", cg_config_path(cfg)));

    uv_loop_t loop;
    uv_loop_init(&loop);
    uv_loop_configure(&loop, UV_METRICS_IDLE_TIME);
    cg_gateway *gw = cg_gateway_new(&loop, cfg);
    int rc = cg_gateway_start(gw);
    if (rc == 0) {
        if (cg_methods_nodes_attach(gw, err, sizeof err) != 0) {
            cg_log(CG_LOG_ERROR, "nodes", "cannot load the node registry",
                   json_pack("{s:s}", "error", err));
            fprintf(stderr, "clawgate: cannot load the node registry: %s\n", err);
            cg_gateway_shutdown(gw, "node registry unreadable");
            rc = -1;
        } else if (cg_methods_exec_approvals_attach(gw, err, sizeof err) != 0) {
            cg_log(CG_LOG_ERROR, "exec-approvals", "cannot load the exec approvals file",
                   json_pack("{s:s}", "error", err));
            fprintf(stderr, "clawgate: cannot load the exec approvals file: %s\n", err);
            cg_gateway_shutdown(gw, "exec approvals file unreadable");
            rc = -1;
        } else if (cg_methods_sessions_attach(gw, err, sizeof err) != 0) {
            cg_log(CG_LOG_ERROR, "sessions", "cannot load the sessions",
                   json_pack("{s:s}", "error", err));
            fprintf(stderr, "clawgate: cannot load the sessions: %s\n", err);
            cg_gateway_shutdown(gw, "sessions unreadable");
            rc = -1;
        } else {
            cg_methods_node_invoke_attach(gw);
            cg_methods_models_attach(gw);
            cg_methods_runs_attach(gw); /* after the providers: its stop hook runs first */
            cg_methods_openai_http_attach(gw);
            cg_methods_hooks_attach(gw);
            cg_methods_logs_live_attach(gw);
            cg_methods_control_ui_attach(gw);
            cg_methods_wizard_attach(gw);
            cg_methods_channels_attach(gw);
            cg_methods_skills_attach(gw);
            cg_methods_cron_attach(gw);
            cg_methods_browser_attach(gw);
            print_listening(gw);
        }
        uv_run(&loop, UV_RUN_DEFAULT);
    }
    cg_log(CG_LOG_INFO, "gateway", "stopped", NULL);
    cg_gateway_free(gw);
    uv_loop_close(&loop);
    cg_config_free(cfg);
    cg_log_close();
    return rc == 0 ? 0 : 1;
}

static int cmd_methods(int argc, char **argv)
{
    bool markdown = argc > 1 && strcmp(argv[1], "--markdown") == 0;
    const cg_method *m;
    if (markdown) printf("| method | roles | scope | description |\n|---|---|---|---|\n");
    for (size_t i = 0; (m = cg_method_at(i)); i++) {
        const char *roles = m->roles == CG_ROLE_NODE       ? "node"
                            : m->roles == CG_ROLE_OPERATOR ? "operator"
                                                           : "operator, node";
        const char *scope = m->scope == CG_SCOPE_NONE ? "-" : cg_scope_name(m->scope);
        if (markdown)
            printf("| `%s` | %s | %s | %s |\n", m->name, roles, scope,
                   m->summary ? m->summary : "");
        else
            printf("%s\t%s\t%s\n", m->name, roles, scope);
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "run") == 0 || strcmp(cmd, "gateway") == 0) return cmd_run(argc - 1, argv + 1);
    if (strcmp(cmd, "call") == 0) return cg_cli_call(argc - 1, argv + 1);
    if (strcmp(cmd, "onboard") == 0) return cg_cli_onboard(argc - 1, argv + 1);
    if (strcmp(cmd, "methods") == 0) return cmd_methods(argc - 1, argv + 1);
    if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
        printf("clawgate %s\n", CLAWGATE_VERSION);
        return 0;
    }
    if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0) {
        usage(stdout);
        return 0;
    }
    usage(stderr);
    return 2;
}
