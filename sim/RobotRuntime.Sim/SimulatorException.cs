namespace RobotRuntime.Sim;

/// <summary>The simulator (MuJoCo, its shim or the GL context) reported an error; the process lives on.</summary>
public sealed class SimulatorException(string message) : Exception(message);
