// Thin entry point: parse the command line, run it, map failures to exit codes (DESIGN §2).
PetrelCLI.main()
