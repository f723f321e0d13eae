using RobotRuntime.Cli.Runtime;
using RobotRuntime.Runtime;

namespace RobotRuntime.Cli.Tests;

/// <summary>
/// rr run with a <c>degrade</c> section against the simulator's arm in this process: what the operator
/// reads when the loop steps its rate down and back up, what the run's summary and <c>rr log</c> say,
/// and the refusal of a rate the arm's watchdog cannot bear. The scripted reach reads its goal from
/// the host every cycle; the host makes that read take 60 ms (real time) until the loop has stepped
/// down, so the loop misses deadlines at 25 Hz (40 ms) and none at 12.5 Hz.
/// </summary>
public sealed class RunDegradeTests : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("rr-degrade-run-").FullName;

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    private RunConfig Config(string degrade) => RunConfig.Parse($$"""
        rate_hz: 25
        runs_folder: {{Path.Combine(_folder, "runs")}}
        arm: {kind: sim}
        policy: {kind: scripted-reach, goal: [0.3, 0.05, 0.15]}
        degrade: {{degrade}}
        safety: {max_state_age: 200ms}
        """, "degrade.yaml");

    [Fact]
    public void RrRunSaysWhenTheRateStepsDownAndBackUpAndTheLogSummarisesIt()
    {
        var config = Config("{rates_hz: [12.5], after_misses: 3, within_cycles: 10, recover_after: 1s}");
        var seen = new List<double>();
        var slow = 0; // read by the loop's thread in the goal, set by the host's tick
        RuntimeSession? armed = null; // likewise
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        var hooks = new RuntimeHooks
        {
            Goal = () =>
            {
                // 60 ms misses 25 Hz's 40 ms deadline but not 12.5 Hz's 80 ms; slow only at 25 Hz, so that on a
                // busy machine a tick that comes late to clear the flag cannot make 12.5 Hz cycles miss (three in
                // a row there would hold the arm).
                if (Volatile.Read(ref slow) != 0 && Volatile.Read(ref armed)?.Loop.Status.RateHz == 25)
                    Thread.Sleep(60);
                return (0.3, 0.05, 0.15);
            },
            Tick = session =>
            {
                Volatile.Write(ref armed, session);
                var rate = session.Loop.Status.RateHz;
                if (seen.Count == 0 || seen[^1] != rate)
                    seen.Add(rate);
                // Slow from the first tick (the loop is armed) until it has stepped down; then (a
                // second without a miss later) it steps back up to 25 Hz: enough.
                Volatile.Write(ref slow, seen.Contains(12.5) ? 0 : 1);
                return DateTime.UtcNow < deadline && !(seen.Contains(12.5) && rate == 25);
            },
        };
        var output = new StringWriter();
        var error = new StringWriter();

        var exit = RunCommand.Execute(config, hooks, output, error, input: null);

        var text = output.ToString();
        Assert.True(exit == 0, $"exit {exit}: {error}\n{text}");
        Assert.Equal([25.0, 12.5, 25.0], seen.Take(3));
        Assert.Contains("rr: on missed deadlines the rate steps down to 12.5 Hz (3 misses within 10 cycles), and back up one rate after 1 s without a miss; " +
            "at 12.5 Hz 3 misses in a row hold the arm\n", text);
        // (Three slow cycles in a row, unless a start-up miss shortly before counts with them.)
        Assert.Matches(@"rr: rate 25 Hz → 12\.5 Hz after 3 deadline misses in \d+ cycles; the lowest rate: 3 missed deadlines in a row now hold the arm\n", text);
        Assert.Contains("rr: rate 12.5 Hz → 25 Hz after 1 s without a miss\n", text);
        Assert.True(text.IndexOf("rr: rate 25 Hz → 12.5 Hz", StringComparison.Ordinal) < text.IndexOf("rr: rate 12.5 Hz → 25 Hz", StringComparison.Ordinal));
        Assert.DoesNotContain("HOLD DeadlineMisses", text); // the rate answered the misses
        // The summary at the end, and rr log on the run folder, give the changes and the time at each rate.
        Assert.Matches(@"\d+ cycles at 25 Hz and lower", text);
        Assert.Matches(@"\nrate changes: \d+ \(\d+ down after missed deadlines, \d+ up after a quiet period\)\n", text);
        Assert.Matches(@"\ntime at 25 Hz: [0-9.]+ s \(\d+ cycle\(s\)\)\n", text);
        Assert.Matches(@"\ntime at 12\.5 Hz: [0-9.]+ s \(\d+ cycle\(s\)\)\n", text);
        var run = Directory.GetDirectories(Path.Combine(_folder, "runs")).Single();
        var log = AgentCommandTests.Rr("log", run);
        Assert.True(log.Exit == 0, log.Error);
        Assert.Matches(@"  cycle \d+: 25 Hz → 12\.5 Hz \(missed deadlines\)\n", log.Output);
        Assert.Matches(@"  cycle \d+: 12\.5 Hz → 25 Hz \(quiet period\)\n", log.Output);
        Assert.Matches(@"time at 12\.5 Hz: [0-9.]+ s", log.Output);
    }

    [Fact]
    public void ARateTheArmsWatchdogCannotBearIsRefusedNamingTheKey()
    {
        // The simulator's arm holds after 100 ms without a command; 5 Hz sends one every 200 ms.
        var output = new StringWriter();
        var error = new StringWriter();
        var exit = RunCommand.Execute(Config("{rates_hz: [12.5, 5]}"), new RuntimeHooks(), output, error, input: null);
        Assert.Equal(2, exit);
        Assert.Contains("rr: degrade.rates_hz: 5 Hz is a 200 ms period, not shorter than the arm's watchdog (100 ms): the arm would hold on its own between two commands; keep every rate above 10 Hz",
            error.ToString());
        Assert.DoesNotContain("loop running", output.ToString());
    }

    [Fact]
    public void ABaseRateTheArmsWatchdogCannotBearIsRefusedBeforeAnythingMoves()
    {
        // 10 Hz sends a command every 100 ms: exactly the simulator arm's watchdog, so it would trip between commands.
        var config = RunConfig.Parse($$"""
            rate_hz: 10
            runs_folder: {{Path.Combine(_folder, "runs")}}
            arm: {kind: sim}
            policy: {kind: scripted-reach, goal: [0.3, 0.05, 0.15]}
            """, "slow.yaml");
        var output = new StringWriter();
        var error = new StringWriter();
        var exit = RunCommand.Execute(config, new RuntimeHooks(), output, error, input: null);
        Assert.Equal(2, exit);
        Assert.Contains("rr: rate_hz: 10 Hz is a 100 ms period, not shorter than the arm's watchdog (100 ms): the arm would hold on its own between two commands; run above 10 Hz",
            error.ToString());
        Assert.DoesNotContain("loop running", output.ToString());
    }

    [Fact]
    public void EachRateChangeReadsAsOneLine()
    {
        var config = Config("{rates_hz: [12.5, 10], recover_after: 2.5s}");
        Assert.Equal("rr: rate 25 Hz → 12.5 Hz after 3 deadline misses in 7 cycles",
            RuntimeSession.DescribeRateChange(new RateChangeEvent(40, 0, 25, 12.5, RateChange.SteppedDown, 3, 7, 0, ToLowest: false), config));
        Assert.Equal("rr: rate 12.5 Hz → 10 Hz after 3 deadline misses in 3 cycles; the lowest rate: 3 missed deadlines in a row now hold the arm",
            RuntimeSession.DescribeRateChange(new RateChangeEvent(52, 0, 12.5, 10, RateChange.SteppedDown, 3, 3, 0, ToLowest: true), config));
        Assert.Equal("rr: rate 10 Hz → 12.5 Hz after 2.5 s without a miss",
            RuntimeSession.DescribeRateChange(new RateChangeEvent(90, 0, 10, 12.5, RateChange.SteppedUp, 0, 0, 2_600_000_000, ToLowest: false), config));
    }
}
