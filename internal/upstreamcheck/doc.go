// Package upstreamcheck runs the upstream playbook's own validation tasks
// (spantaleev/matrix-docker-ansible-deploy) on rendered inventories, with
// the real ansible-playbook, offline, on the controller only, as any user.
//
// What runs: the validate_*.yml task files (every role's
// validate_config*.yml, and matrix_playbook_migration's
// validate_migration_version.yml) that `setup.yml --tags=setup-all` would
// run before it changes anything. The harness playbook is generated from
// the snapshot by Plan and Playbook, never listed by hand: setup.yml's roles
// in order, each role's tasks/main.yml followed (through the task files it
// includes) for includes of those files under the setup-all or always
// tags, with every `when` around them. The defaults and vars of all roles
// are loaded into the play, as setup.yml's roles list does, since
// group_vars/matrix_servers refers to them.
//
// What does not run, on purpose or by necessity:
//   - validations whose role is listed in excluded: playbook_help's
//     controller check (the wrapper ansible/run-playbook checks the
//     controller);
//   - validations outside setup-all (systemd_service_manager's, which runs
//     with the start tags) and validations included in a loop (meowlnir's
//     and matrix-user-creator's per-bot and per-user checks);
//   - checks written inline in other task files rather than in a validate
//     file, e.g. synapse's init.yml refusing the renamed room-workers
//     preset, and playbook_state_preserver's checks in its main.yml;
//   - everything upstream runs between validations (facts it sets, users it
//     creates): a validation depending on such a fact cannot be reproduced.
//
// Verdicts: Validate checks many configurations in one ansible-playbook
// process, one local inventory host each. A configuration is refused
// (Report.OK false, the task's name and msg verbatim) when an upstream fail
// or assert task fails for it; like setup.yml, a refused configuration
// stops at its first failing task. Any other failure (ansible-playbook
// crashing, an unparsable vars.yml, an undefined variable or templating
// error in a task) yields a *RunError instead: the harness does not run the
// tasks upstream runs between validations, so it cannot tell whether the
// upstream would hit the same error, and it neither blames nor passes the
// configuration.
package upstreamcheck
