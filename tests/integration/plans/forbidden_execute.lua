-- A hostile plan: reaches for the shell.
os.execute("echo pwned")
return "should not get here"
