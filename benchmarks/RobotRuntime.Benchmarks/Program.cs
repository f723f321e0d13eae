using BenchmarkDotNet.Running;

// Every public benchmark class in this assembly is a suite; pick with --filter (see README.md).
BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
