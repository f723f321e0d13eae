using System.Runtime.CompilerServices;

namespace RobotRuntime.Arm;

/// <summary>
/// Up to <see cref="Capacity"/> per-joint values stored inline (no heap allocation), so arm
/// states and commands can be copied by value in the control loop. Only the first
/// <c>JointCount</c> elements of the owning state or command are meaningful.
/// </summary>
/// <remarks>Real-time: no allocation. Index with <c>vector[i]</c> or take a span with
/// <c>((Span&lt;double&gt;)vector)[..count]</c>.</remarks>
[InlineArray(Capacity)]
public struct JointVector
{
    /// <summary>The most joints an arm may have (the firmware protocol's limit).</summary>
    public const int Capacity = 16;

    private double _element0;
}
