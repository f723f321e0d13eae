namespace RobotRuntime.Safety;

/// <summary>
/// The layer between the policy and the arm: turns a requested command into a safe command or a
/// hold, with a reason. Holds are latched until <see cref="Reset"/>.
/// </summary>
public interface ISafetyFilter
{
    /// <summary>Filters one cycle's command.</summary>
    /// <param name="input">What the loop knows this cycle.</param>
    /// <param name="result">What was asked, what is allowed and why.</param>
    /// <returns>The same as <c>result.Status</c>.</returns>
    /// <remarks>Real-time: no allocation, no blocking, no throw. Control-loop thread only.</remarks>
    SafetyStatus Filter(in SafetyInput input, out SafetyResult result);

    /// <summary>Presses the emergency stop from <paramref name="source"/> (momentary: latches a hold).</summary>
    /// <param name="source">Where it came from.</param>
    /// <param name="detail">Text for the operator, kept with the hold.</param>
    /// <remarks>Any thread; no blocking, no throw.</remarks>
    void EmergencyStop(EmergencyStopSource source, string detail);

    /// <summary>Sets a level-sensitive e-stop input (a file present, a line low): while asserted the arm holds and <see cref="Reset"/> refuses.</summary>
    /// <param name="source">Which input.</param>
    /// <param name="asserted">Whether the input calls for a stop now.</param>
    /// <param name="detail">Text for the operator, kept with the hold.</param>
    /// <remarks>Any thread; no blocking, no throw.</remarks>
    void SetEmergencyStopInput(EmergencyStopSource source, bool asserted, string detail);

    /// <summary>Releases a latched hold, unless its cause (or another) is still present.</summary>
    /// <remarks>Not real-time (builds a message). Control-loop thread only, between cycles (the loop
    /// takes the operator's reset request and calls it), or while the loop is stopped.</remarks>
    SafetyResetResult Reset();

    /// <summary>Whether a hold is latched now.</summary>
    bool IsHolding { get; }

    /// <summary>The latched hold's reason; <see cref="HoldReason.None"/> when not holding.</summary>
    HoldReason HoldReason { get; }

    /// <summary>Text of the latched hold's reason; empty when not holding.</summary>
    string HoldText { get; }
}
