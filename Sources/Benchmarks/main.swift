// Mantissa benchmarks: `swift run -c release Benchmarks [--quick] [--filter <substring>] [--markdown <path>]`.
// Every row compares the library against a baseline measured in the same run, side by side.
#if canImport(Glibc)
import Glibc
#endif
import Scalars
import LinearAlgebra

BenchmarkMain.run(Array(CommandLine.arguments.dropFirst()))
