"""The schedule-wake Lambda: EventBridge Scheduler invokes it at a schedule's next run to wake Blu from zero."""
