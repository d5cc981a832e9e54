/* `clawgate onboard`: the same engine as wizard.* (wizard/wizard.h), driven from a
 * terminal or a pipe.
 *
 * The configuration is resolved as the gateway resolves it (flag > environment >
 * default: --state-dir, --config) and read without writing anything; the engine writes
 * its one merge patch through the same config store (temp file, fsync, rename) at the
 * end. A private libuv loop runs the engine's work (the key check's HTTP, the write on
 * the thread pool); between steps the loop is idle and the program reads the next
 * answer from stdin, one line per step:
 *   select   a number from the list or an option's value; empty takes the default;
 *   text     the text; empty takes the default the step shows (if any);
 *   confirm  y/yes/true or n/no/false; empty takes the default (yes).
 * A sensitive step is read without echo when stdin is a terminal. End of input cancels:
 * nothing is written. There is no idle timeout here: a person at the terminal takes
 * the time they need, and ^C or EOF ends it. Prompts go to stdout, one step at a time. */
#include "cli/onboard.h"

#include <getopt.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <termios.h>
#include <unistd.h>
#include <uv.h>

#include "agent/http_client.h"
#include "config/config.h"
#include "wizard/wizard.h"

#define LINE_MAX_BYTES 8192

static void usage(FILE *f)
{
    fprintf(f, "usage: clawgate onboard [--state-dir DIR] [--config FILE] [--workspace DIR]\n");
}

/* One line from stdin without its newline, echo off when asked and stdin is a terminal.
 * false at end of input. */
static bool read_line(char *buf, size_t len, bool hidden)
{
    struct termios saved, quiet;
    bool tty = hidden && isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &saved) == 0;
    if (tty) {
        quiet = saved;
        quiet.c_lflag &= ~(tcflag_t)ECHO;
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
    }
    bool ok = fgets(buf, (int)len, stdin) != NULL;
    if (tty) tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved);
    if (tty || !isatty(STDIN_FILENO)) printf("\n"); /* the echo the terminal did not give */
    if (!ok) return false;
    size_t n = strlen(buf);
    if (n > 0 && buf[n - 1] != '\n' && !feof(stdin)) {
        int c; /* longer than the buffer: drop the rest of the line, the engine refuses it */
        while ((c = getchar()) != EOF && c != '\n')
            ;
    }
    buf[strcspn(buf, "\r\n")] = 0;
    return true;
}

static void print_step(const json_t *step)
{
    const char *title = json_string_value(json_object_get(step, "title"));
    const char *message = json_string_value(json_object_get(step, "message"));
    const json_t *initial = json_object_get(step, "initialValue");
    printf("\n== %s ==\n%s\n", title ? title : "", message ? message : "");
    size_t i;
    const json_t *opt;
    json_array_foreach(json_object_get(step, "options"), i, opt)
    {
        const char *hint = json_string_value(json_object_get(opt, "hint"));
        bool is_default = initial && json_equal(initial, json_object_get(opt, "value"));
        printf("  %zu) %s%s%s%s\n", i + 1, json_string_value(json_object_get(opt, "label")),
               hint ? " - " : "", hint ? hint : "", is_default ? " (default)" : "");
    }
    const char *type = json_string_value(json_object_get(step, "type"));
    if (!strcmp(type, "confirm"))
        printf("[%s] ", json_is_false(initial) ? "y/N" : "Y/n");
    else if (json_is_string(initial) && !json_object_get(step, "options"))
        printf("[%s] ", json_string_value(initial));
    printf("> ");
    fflush(stdout);
}

/* The answer a line means for this step (a new reference), NULL when it is not UTF-8. */
static json_t *answer_of(const json_t *step, const char *line)
{
    const char *type = json_string_value(json_object_get(step, "type"));
    const json_t *initial = json_object_get(step, "initialValue");
    if (!strcmp(type, "confirm")) {
        if (!*line) return json_is_false(initial) ? json_false() : json_true();
        if (!strcasecmp(line, "y") || !strcasecmp(line, "yes") || !strcasecmp(line, "true"))
            return json_true();
        if (!strcasecmp(line, "n") || !strcasecmp(line, "no") || !strcasecmp(line, "false"))
            return json_false();
        return json_string(line); /* refused by the engine, which says how to answer */
    }
    const json_t *options = json_object_get(step, "options");
    if (options) {
        if (!*line && initial) return json_incref((json_t *)initial);
        char *end;
        long n = strtol(line, &end, 10);
        if (*line && !*end && n >= 1 && (size_t)n <= json_array_size(options))
            return json_incref(json_object_get(json_array_get(options, (size_t)n - 1), "value"));
    }
    return json_string(line);
}

/* Runs the session to its end. */
static void drive(cg_wizard *w, uv_loop_t *loop)
{
    char line[LINE_MAX_BYTES];
    while (cg_wizard_status_of(w) == CG_WIZARD_RUNNING) {
        if (cg_wizard_busy(w)) {
            uv_run(loop, UV_RUN_ONCE);
            continue;
        }
        json_t *step = cg_wizard_step(w);
        print_step(step);
        if (!read_line(line, sizeof line, cg_wizard_step_sensitive(w))) {
            cg_wizard_cancel(w);
            json_decref(step);
            break;
        }
        json_t *answer = answer_of(step, line);
        if (!answer) {
            fprintf(stderr, "clawgate: the answer is not valid UTF-8\n");
            json_decref(step);
            continue;
        }
        char err[256];
        if (cg_wizard_answer(w, json_string_value(json_object_get(step, "id")), answer, err,
                             sizeof err))
            fprintf(stderr, "clawgate: %s\n", err);
        json_decref(answer);
        json_decref(step);
        if (cg_wizard_busy(w)) {
            printf("working...\n");
            fflush(stdout);
        }
    }
}

int cg_cli_onboard(int argc, char **argv)
{
    static const struct option opts[] = {
        {"state-dir", required_argument, 0, 's'},
        {"config", required_argument, 0, 'c'},
        {"workspace", required_argument, 0, 'w'},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    cg_overrides ov = {0};
    const char *workspace = NULL;
    int ch;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (ch) {
        case 's':
            ov.state_dir = optarg;
            break;
        case 'c':
            ov.config_path = optarg;
            break;
        case 'w':
            workspace = optarg;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind < argc) {
        usage(stderr);
        return 2;
    }
    char err[512] = "";
    cg_config *cfg = cg_config_new(&ov, err, sizeof err);
    if (!cfg) {
        fprintf(stderr, "clawgate: %s\n", err);
        return 1;
    }
    if (cg_config_read(cfg, err, sizeof err) != 0) {
        fprintf(stderr, "clawgate: %s\n", err);
        cg_config_free(cfg);
        return 1;
    }
    printf("clawgate onboarding: %s\n", cg_config_path(cfg));
    uv_loop_t loop;
    uv_loop_init(&loop);
    cg_http *http = cg_http_new(&loop);
    cg_wizard_options opt = {.loop = &loop, .cfg = cfg, .http = http, .workspace = workspace};
    cg_wizard *w = cg_wizard_new(&opt);
    drive(w, &loop);
    int rc = 1;
    switch (cg_wizard_status_of(w)) {
    case CG_WIZARD_DONE:
        printf("configuration written to %s\n", cg_config_path(cfg));
        rc = 0;
        break;
    case CG_WIZARD_CANCELLED:
        printf("onboarding cancelled: nothing was written\n");
        break;
    default:
        fprintf(stderr, "clawgate: %s\n", cg_wizard_error(w) ? cg_wizard_error(w) : "failed");
        break;
    }
    fflush(stdout);
    cg_wizard_free(w);
    cg_http_free(http);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    cg_config_free(cfg);
    return rc;
}
