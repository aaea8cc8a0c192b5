// Thin entry point: parse the command line, run the scenario, print and write reports, map the
// outcome to an exit code (0 pass, 1 a threshold failed, 2 bad usage).
LoadTestCLI.main()
