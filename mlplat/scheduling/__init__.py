"""APScheduler jobs declared in conf/schedule: drift checks, reports, digests, audit checks."""
