print("Benchmarks: none yet.")
