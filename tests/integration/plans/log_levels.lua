-- Logs once at each level, then answers: for --quiet, which keeps warnings and errors.
log.info("an info line")
log.warn("a warning line")
log.error("an error line")
return "answered"
