namespace RobotRuntime.Transport.Tests;

/// <summary>
/// A small seeded property harness: generates cases from a fixed seed and reports the seed and case
/// number of the first failure, so any failure reproduces exactly.
/// </summary>
internal static class PropertyRunner
{
    public static void ForAll<T>(int seed, int cases, Func<Random, T> generate, Action<T> property)
    {
        var random = new Random(seed);
        for (var i = 0; i < cases; i++)
        {
            var value = generate(random);
            try
            {
                property(value);
            }
            catch (Exception e)
            {
                throw new Xunit.Sdk.XunitException($"property failed for seed {seed}, case {i}: {e.Message}");
            }
        }
    }
}
