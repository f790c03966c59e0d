# Callback plugin of the Go package upstreamcheck, written next to the
# generated harness playbook for each run. It appends one JSON object per
# line to the file named by UPSTREAMCHECK_EVENTS, so the Go side parses
# structured results instead of human-oriented output.
#
# A failed task is an upstream refusal ("refusal": true) only when the fail
# or assert module itself ran and failed. When Ansible could not run the
# task (an undefined variable in its condition or arguments, a templating
# error) TaskExecutor returns a result built from the exception, which has
# no "changed" key; the Go side treats those as errors of the run.

import json
import os

from ansible.plugins.callback import CallbackBase

REFUSAL_ACTIONS = frozenset((
    'fail', 'assert',
    'ansible.builtin.fail', 'ansible.builtin.assert',
    'ansible.legacy.fail', 'ansible.legacy.assert',
))


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = 'aggregate'
    CALLBACK_NAME = 'upstreamcheck_events'
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self):
        super().__init__()
        self._out = open(os.environ['UPSTREAMCHECK_EVENTS'], 'a', encoding='utf-8')

    def _emit(self, **event):
        self._out.write(json.dumps(event, default=str) + '\n')
        self._out.flush()

    def _failure(self, result, item=None):
        r = result._result
        task = result._task
        action = getattr(task, 'resolved_action', None) or task.action
        msg = r.get('msg', '')
        if not isinstance(msg, str):
            msg = json.dumps(msg, default=str)
        self._emit(
            event='failed',
            host=result._host.get_name(),
            task=task.get_name(),
            action=action,
            msg=msg,
            item=item,
            refusal=action in REFUSAL_ACTIONS and 'changed' in r,
        )

    def v2_runner_on_failed(self, result, ignore_errors=False):
        if ignore_errors:
            return
        # A loop's items were reported one by one; its summary adds nothing.
        if 'results' in result._result:
            if any(i.get('failed') for i in result._result['results'] if isinstance(i, dict)):
                return
        self._failure(result)

    def v2_runner_item_on_failed(self, result):
        if result._task.ignore_errors:
            return
        self._failure(result, item=self._get_item_label(result._result))

    def v2_runner_on_unreachable(self, result):
        self._emit(event='unreachable', host=result._host.get_name(),
                   task=result._task.get_name(), msg=str(result._result.get('msg', '')))

    def v2_playbook_on_stats(self, stats):
        for host in sorted(stats.processed.keys()):
            s = stats.summarize(host)
            self._emit(event='stats', host=host, ok=s['ok'], failures=s['failures'],
                       unreachable=s['unreachable'], skipped=s['skipped'])
        self._out.close()
