/*
 * functions.h -- Omni's durable functions, registered on the Inngest app
 * (inngest.h) by handlers/inngest.c in each worker.
 *
 *   app/functions/testing.c  functions that exercise the SDK end to end
 *                            (tests, `make run`); only with
 *                            OMNI_DEBUG_ROUTES=1, which the configuration
 *                            refuses in production
 *   app/functions/create_task.c        create-task (the web frontend's
 *                                      flow: sandbox, then processing)
 *   app/functions/process_knowledge.c  process-knowledge (the agent run)
 *   app/functions/agent.c              their agent helpers (agent.h)
 *
 * Omni's own functions reach the worker's sandbox provider and
 * configuration at call time through the app's data, which must be the
 * worker context (omni_worker.h; ing_app_set_data), set before serving.
 *
 * Event names start with cfg->event_prefix ("omni" by default), so one
 * Inngest environment can host several Omni deployments.  Definitions live
 * in static storage filled at registration: register once per process,
 * before serving, and keep the app's lifetime within the process's.
 */
#ifndef OMNI_FUNCTIONS_H
#define OMNI_FUNCTIONS_H

#include "inngest.h"

struct omni_config;

/*
 * The test functions (ids as registered, events as <prefix>/<name>):
 *
 *   test-three-steps  test.three-steps  steps first, second, third; returns
 *                                       {"steps": ["first","second","third"]}
 *   test-flaky        test.flaky        step "flaky" fails on the first
 *                                       data.failures attempts (default 1),
 *                                       then succeeds
 *   test-fatal        test.fatal        step "validate" fails without
 *                                       retries; with data.where ==
 *                                       "function" the function itself does
 *   test-sleep        test.sleep        step, sleep data.duration ("1s"),
 *                                       step
 *   test-parallel     test.parallel     steps "left" and "right" in
 *                                       parallel, then "join"
 *   test-wait         test.wait         waits for <prefix>/test.approve with
 *                                       async.data.id == event.data.id for
 *                                       data.timeout ("2s"); returns
 *                                       {"matched": bool, "approver": ...}
 *   test-send         test.send         sends <prefix>/test.sent in a step
 *   test-invoke       test.invoke       invokes test-three-steps
 *   test-cancel       test.cancellable  step, sleep data.duration ("30s"),
 *                                       step; cancelled by <prefix>/
 *                                       test.cancel with the same data.id
 *   test-serial       test.serial       concurrency limit 1; step "work"
 *                                       holds a thread data.ms (200) and
 *                                       returns {start_ms, end_ms}
 *
 * Does nothing and returns ING_OK unless cfg->debug_routes is set.  Errors
 * are those of ing_app_register().
 */
/*
 * create-task on <prefix>/create.task and process-knowledge on
 * <prefix>/process.knowledge (ARCHITECTURE.md, "Durable functions"; each
 * file's head says what its steps do).  Always registered.  Errors are
 * those of ing_app_register().
 */
enum ing_err functions_register_create_task(struct ing_app *app,
    const struct omni_config *cfg);
enum ing_err functions_register_process_knowledge(struct ing_app *app,
    const struct omni_config *cfg);

enum ing_err functions_register_testing(struct ing_app *app,
    const struct omni_config *cfg);

#endif
