"""Plans: deploy, recovery and uninstall, as phases of steps with strategies and human reasons.

Why this package exists: the scheduler core needs one answer to "what may I work on now"
(`plan.next_candidates`) and operators need one picture of progress and of why something waits
(`Plan.to_dict()`, served by /v1/plans and stored in ZooKeeper). Plans are views over the instance and
reservation machines' states, rebuilt or refreshed from them, so they never drift from the truth.

- `plan`: Plan, Phase, Step, Status, Strategy, next_candidates, serialisation;
- `deploy`: first launch of every pod instance, per-pod serial or parallel;
- `recovery`: relaunch in place, and permanent replacement one at a time;
- `uninstall`: kill, destroy, unreserve, delete state; finishes even when agents are gone.
"""
