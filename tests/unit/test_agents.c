/* Unit tests of agents (agent/agents.c) over a real configuration in a temporary state
 * dir: agents from agents.entries and the default main, workspaces resolved as the real
 * gateway resolves them (entry, agents.defaults.workspace, <state>/workspace[-<id>]),
 * and the system prompt built off the loop from the workspace files (order, blank and
 * unsafe files skipped, invalid UTF-8 replaced, an unknown agent reported). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include "agent/agents.h"
#include "common/util.h"
#include "config/config.h"

typedef struct fixture {
    char dir[64];
    uv_loop_t loop;
    cg_config *cfg;
    cg_agents *agents;
} fixture;

static void write_text(const char *dir, const char *name, const char *text)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    assert_int_equal(cg_write_file_atomic(path, text, strlen(text), 0600), 0);
}

static int setup(void **state)
{
    fixture *f = cg_xcalloc(1, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/cg-agents-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    uv_loop_init(&f->loop);
    write_text(f->dir, "clawgate.json",
               "{\"gateway\": {\"auth\": {\"mode\": \"none\"}}, \"agents\": {\"entries\": {"
               "\"Ops\": {\"name\": \"Ops\", \"model\": {\"primary\": \"openai/gpt-5\"}},"
               "\"pinned\": {\"workspace\": \"/srv/pinned\", \"identity\": {\"name\": \"Pin\", "
               "\"emoji\": \"P\"}}}}}");
    cg_overrides ov = {.state_dir = f->dir};
    char err[256];
    f->cfg = cg_config_new(&ov, err, sizeof err);
    assert_non_null(f->cfg);
    char *token = NULL;
    assert_int_equal(cg_config_load(f->cfg, &token, err, sizeof err), 0);
    free(token);
    f->agents = cg_agents_new(f->cfg, &f->loop);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    cg_agents_free(f->agents);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    cg_config_free(f->cfg);
    uv_loop_close(&f->loop);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", f->dir);
    assert_int_equal(system(cmd), 0);
    free(f);
    return 0;
}

static void test_agents_from_config(void **state)
{
    fixture *f = *state;
    size_t n;
    cg_agent **list = cg_agents_list(f->agents, &n);
    assert_int_equal(n, 3);
    assert_string_equal(list[0]->id, "main");
    assert_true(list[0]->is_default);
    assert_false(list[0]->configured);
    char want[256];
    snprintf(want, sizeof want, "%s/workspace", f->dir);
    assert_string_equal(list[0]->workspace, want);
    assert_string_equal(list[1]->id, "ops");
    assert_string_equal(list[1]->name, "Ops");
    assert_string_equal(list[1]->model, "openai/gpt-5");
    snprintf(want, sizeof want, "%s/workspace-ops", f->dir);
    assert_string_equal(list[1]->workspace, want);
    assert_string_equal(list[2]->id, "pinned");
    assert_string_equal(list[2]->workspace, "/srv/pinned");
    assert_string_equal(list[2]->name, "Pin");
    assert_string_equal(list[2]->emoji, "P");
    cg_agents_list_free(list, n);

    cg_agent *a = cg_agents_find(f->agents, "OPS");
    assert_non_null(a);
    assert_string_equal(a->id, "ops");
    cg_agent_free(a);
    assert_null(cg_agents_find(f->agents, "ghost"));
    assert_null(cg_agents_find(f->agents, "!!!"));

    assert_true(cg_agent_file_allowed("SOUL.md"));
    assert_false(cg_agent_file_allowed("../SOUL.md"));
    assert_false(cg_agent_file_allowed("soul.md"));
}

typedef struct prompt_result {
    char *prompt;
    char error[128];
    int calls;
} prompt_result;

static void on_prompt(char *prompt, const char *error, void *data)
{
    prompt_result *r = data;
    r->prompt = prompt;
    snprintf(r->error, sizeof r->error, "%s", error ? error : "");
    r->calls++;
}

static void test_system_prompt(void **state)
{
    fixture *f = *state;
    char ws[256];
    snprintf(ws, sizeof ws, "%s/workspace-ops", f->dir);
    assert_int_equal(cg_mkdir_p(ws, 0700), 0);
    write_text(ws, "USER.md", "The user likes tea.\n");
    write_text(ws, "AGENTS.md", "Be brief.");
    write_text(ws, "SOUL.md", "  \n\n");          /* blank: left out */
    write_text(ws, "MEMORY.md", "bad \xff byte"); /* invalid UTF-8: replaced */
    char target[256], link[300];
    snprintf(target, sizeof target, "%s/clawgate.json", f->dir);
    snprintf(link, sizeof link, "%s/IDENTITY.md", ws);
    assert_int_equal(symlink(target, link), 0); /* unsafe: left out */

    prompt_result r = {0};
    cg_agents_system_prompt(f->agents, "ops", on_prompt, &r);
    assert_int_equal(r.calls, 0); /* never inside the call */
    while (r.calls == 0)
        uv_run(&f->loop, UV_RUN_ONCE);
    assert_non_null(r.prompt);
    assert_non_null(strstr(r.prompt, "You are Ops (agent \"ops\")"));
    const char *agents = strstr(r.prompt, "## AGENTS.md\n\nBe brief.\n\n");
    const char *user = strstr(r.prompt, "## USER.md\n\nThe user likes tea.\n");
    const char *memory = strstr(r.prompt, "## MEMORY.md\n\nbad \xef\xbf\xbd byte");
    assert_non_null(agents);
    assert_non_null(user);
    assert_non_null(memory);
    assert_true(agents < user && user < memory);
    assert_null(strstr(r.prompt, "SOUL.md"));
    assert_null(strstr(r.prompt, "IDENTITY.md"));
    assert_null(strstr(r.prompt, "\"auth\""));
    free(r.prompt);

    r = (prompt_result){0};
    cg_agents_system_prompt(f->agents, "ghost", on_prompt, &r);
    while (r.calls == 0)
        uv_run(&f->loop, UV_RUN_ONCE);
    assert_null(r.prompt);
    assert_string_equal(r.error, "agent \"ghost\" not found");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_agents_from_config, setup, teardown),
        cmocka_unit_test_setup_teardown(test_system_prompt, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
