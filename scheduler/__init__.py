"""The engine of time: APScheduler jobs, planning obligations into the outbox, delivery, leadership and housekeeping."""
