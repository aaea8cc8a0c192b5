print("petrel-loadtest: not built yet")
