namespace RobotRuntime.Tensors.Tests;

/// <summary>
/// The test classes that set the process-wide <see cref="TensorEngine.ThreadCount"/>. xUnit runs
/// classes in parallel; one that changes the count while another measures (e.g. allocations of a warm
/// Conv2dInto, whose warm-up and measured calls must take the same path) would make the other fail
/// at random, so these run one after another.
/// </summary>
public static class ThreadCountCollection
{
    /// <summary>The collection's name, for <c>[Collection(ThreadCountCollection.Name)]</c>.</summary>
    public const string Name = "TensorEngine.ThreadCount";
}
