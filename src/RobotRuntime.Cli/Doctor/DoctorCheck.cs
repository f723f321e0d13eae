namespace RobotRuntime.Cli.Doctor;

/// <summary>How a doctor check came out.</summary>
public enum CheckStatus
{
    /// <summary>Present and working.</summary>
    Ok,
    /// <summary>Nothing wrong; a fact worth knowing (e.g. no cameras on a CI machine).</summary>
    Info,
    /// <summary>Works, but not as a deployment would want (e.g. no GPU provider).</summary>
    Warning,
    /// <summary>Missing or broken: something that needs it will fail.</summary>
    Failed,
}

/// <summary>One line of <c>rr doctor</c>'s report.</summary>
/// <param name="Name">What was checked, e.g. "ONNX Runtime".</param>
/// <param name="Status">The outcome.</param>
/// <param name="Detail">Version and facts found, or what went wrong.</param>
/// <param name="Location">Where it was found (a file path), or null.</param>
/// <param name="Fix">What to run or do to fix it, or null when nothing needs fixing.</param>
public sealed record DoctorCheck(string Name, CheckStatus Status, string Detail, string? Location = null, string? Fix = null);
