namespace RobotRuntime.Vision;

/// <summary>A camera, the capture shim or an encoder reported an error, with what failed and why.</summary>
public sealed class VisionException(string message) : Exception(message);
