namespace RobotRuntime.Core.Tests.Runtime;

/// <summary>
/// The test classes that change the process-wide <see cref="System.Runtime.GCSettings.LatencyMode"/>:
/// <see cref="RealTimeSetupTests"/> sets it and compares it with what it read before, and
/// <see cref="ControlLoopTests"/> runs a loop thread with <c>LowLatencyGc</c>, which sets it when the
/// loop starts and restores it when the loop stops. xUnit runs classes in parallel; a loop starting or
/// stopping between the other class's read and its check would make that check compare against a mode
/// the loop set, so these run one after another.
/// </summary>
public static class GcLatencyModeCollection
{
    /// <summary>The collection's name, for <c>[Collection(GcLatencyModeCollection.Name)]</c>.</summary>
    public const string Name = "GCSettings.LatencyMode";
}
