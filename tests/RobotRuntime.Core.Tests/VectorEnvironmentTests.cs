using RobotRuntime.Environments;

namespace RobotRuntime.Core.Tests;

public sealed class VectorEnvironmentTests
{
    /// <summary>A one-dimensional walk: the action moves a position; the episode ends after <c>limit</c> steps.</summary>
    private sealed class Walk(int limit, bool failOnStep = false) : IEnvironment
    {
        private readonly Observation _observation = new([], 2);
        private int _steps;

        public int CreatedOn { get; } = Environment.CurrentManagedThreadId;

        public List<int> CalledOn { get; } = [];

        public List<int> Seeds { get; } = [];

        public bool Disposed { get; private set; }

        public EnvironmentSpec Spec { get; } = new("walk", new ActionSpace(ActionMode.JointPositionTargets, ["move"], 0), [], 1, 1, ["position", "seed"], 0.1, limit);

        public Observation Reset(int seed)
        {
            CalledOn.Add(Environment.CurrentManagedThreadId);
            Seeds.Add(seed);
            _steps = 0;
            _observation.Proprioception[0] = 0;
            _observation.Proprioception[1] = seed;
            return _observation;
        }

        public StepResult Step(ReadOnlySpan<float> action)
        {
            CalledOn.Add(Environment.CurrentManagedThreadId);
            if (failOnStep)
                throw new InvalidOperationException("the walk fell over");
            _steps++;
            _observation.Proprioception[0] += action[0];
            return new StepResult(_observation, action[0], false, _steps >= limit, new StepInfo(false, 0, _steps));
        }

        public void Dispose() => Disposed = true;
    }

    [Fact]
    public void EachEnvironmentIsCreatedAndUsedOnItsOwnThreadAndGetsItsOwnActionRow()
    {
        var walks = new Walk[3];
        var factories = Enumerable.Range(0, 3).Select(i => (Func<IEnvironment>)(() => walks[i] = new Walk(10))).ToArray();
        using (var vector = new VectorEnvironment(factories))
        {
            var observations = new Observation[3];
            vector.Reset(100, observations);
            Assert.Equal([100f, 101f, 102f], observations.Select(o => o.Proprioception[1]));
            var results = new StepResult[3];
            vector.Step([1f, 2f, 3f], results);
            vector.Step([1f, 2f, 3f], results);
            Assert.Equal([2f, 4f, 6f], results.Select(r => r.Observation.Proprioception[0]));
            Assert.Equal([1.0, 2.0, 3.0], results.Select(r => r.Reward));
        }
        Assert.All(walks, w => Assert.All(w.CalledOn, thread => Assert.Equal(w.CreatedOn, thread)));
        Assert.Equal(3, walks.Select(w => w.CreatedOn).Distinct().Count());
        Assert.DoesNotContain(Environment.CurrentManagedThreadId, walks.Select(w => w.CreatedOn));
        Assert.All(walks, w => Assert.True(w.Disposed));
    }

    [Fact]
    public void AfterAnEpisodeEndsTheNextStepResetsThatEnvironmentWithTheNextSeedOfItsSequence()
    {
        var walks = new Walk[2];
        using var vector = new VectorEnvironment([() => walks[0] = new Walk(2), () => walks[1] = new Walk(3)]);
        var observations = new Observation[2];
        vector.Reset(10, observations);
        var results = new StepResult[2];
        vector.Step([1f, 1f], results);
        vector.Step([1f, 1f], results);
        Assert.True(results[0].Truncated);
        Assert.False(results[1].Done);
        vector.Step([1f, 1f], results);
        // Environment 0 was reset instead of stepped: seed 10 + 2 environments.
        Assert.Equal([10, 12], walks[0].Seeds);
        Assert.Equal(0, results[0].Reward);
        Assert.False(results[0].Done);
        Assert.Equal(0f, results[0].Observation.Proprioception[0]);
        Assert.True(results[1].Truncated);
    }

    [Fact]
    public void AFailingEnvironmentIsNamedInTheErrorAndTheOthersKeepWorking()
    {
        using var vector = new VectorEnvironment([() => new Walk(5), () => new Walk(5, failOnStep: true)]);
        var observations = new Observation[2];
        vector.Reset(0, observations);
        var error = Assert.Throws<AggregateException>(() => vector.Step([1f, 1f], new StepResult[2]));
        var inner = Assert.Single(error.InnerExceptions);
        Assert.Contains("environment 1 failed: the walk fell over", inner.Message);
    }

    [Fact]
    public void WrongShapesAndMismatchedEnvironmentsAreRefusedWithTheExpectedShape()
    {
        using var vector = new VectorEnvironment([() => new Walk(5), () => new Walk(5)]);
        vector.Reset(0, new Observation[2]);
        Assert.Contains("expected 2 environments × 1 = 2", Assert.Throws<ArgumentException>(() => vector.Step([1f, 1f, 1f], new StepResult[2])).Message);
        Assert.Contains("has room for 1 environments; this vector environment has 2", Assert.Throws<ArgumentException>(() => vector.Step([1f, 1f], new StepResult[1])).Message);
        Assert.Contains("at least one", Assert.Throws<ArgumentException>(() => new VectorEnvironment([])).Message);
        var factoryError = Assert.Throws<AggregateException>(() => new VectorEnvironment([() => throw new IOException("no scene file")]));
        Assert.Contains("environment 0 failed: no scene file", factoryError.InnerExceptions[0].Message);
    }
}
