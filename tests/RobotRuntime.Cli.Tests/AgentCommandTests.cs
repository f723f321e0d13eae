using System.CommandLine;
using RobotRuntime.Cli;

namespace RobotRuntime.Cli.Tests;

public class AgentCommandTests
{
    private static (int Exit, string Output, string Error) Rr(params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        int exit = RrCommand.Create().Parse(args).Invoke(new InvocationConfiguration { Output = output, Error = error });
        return (exit, output.ToString(), error.ToString());
    }

    [Fact]
    public void TrainThenEvalWritesARunFolderATableAndAPackage()
    {
        string folder = Path.Combine(Path.GetTempPath(), "rr-cli-agent-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(folder);
        string config = Path.Combine(folder, "agent.json");
        File.WriteAllText(config, "{ \"size\": \"rt-tiny\", \"latentDim\": 32, \"mlpDim\": 64, \"encoderDim\": 64, \"cnnChannels\": 8, \"batchSize\": 4, \"frameStack\": 1 }");
        string run = Path.Combine(folder, "run");
        var train = Rr("train", "--task", "reach", "--mode", "scratch", "--config", config, "--seed", "2", "--steps", "110",
            "--seed-steps", "105", "--pretrain-updates", "2", "--eval-every", "1000000", "--act", "prior", "--run", run, "--no-progress");
        Assert.True(train.Exit == 0, train.Error);
        Assert.Contains("new run", train.Output);
        foreach (var file in new[] { "run.json", "metrics.csv", "metrics.jsonl", "checkpoint.safetensors", "replay.bin" })
        {
            Assert.True(File.Exists(Path.Combine(run, file)), file);
        }
        var eval = Rr("eval", run, "--shifts", "table-hard", "--episodes", "1", "--planner", "prior", "--package", Path.Combine(folder, "package"));
        Assert.True(eval.Exit == 0, eval.Error);
        Assert.Contains("in-distribution,1,", eval.Output);
        Assert.Contains("table-hard,1,", eval.Output);
        Assert.Contains("dormant ratio", eval.Output);
        Assert.True(File.Exists(Path.Combine(folder, "package", "manifest.json")));
    }

    [Fact]
    public void BadAgentOptionsAreNamedWithWhatIsValid()
    {
        var mode = Rr("train", "--mode", "half", "--run", Path.GetTempPath());
        Assert.Equal(2, mode.Exit);
        Assert.Contains("--mode 'half'", mode.Error);
        var size = Rr("train", "--size", "10m", "--run", Path.GetTempPath());
        Assert.Equal(2, size.Exit);
        Assert.Contains("rt-small", size.Error);
        var missing = Rr("eval", Path.Combine(Path.GetTempPath(), "no-such-run-" + Guid.NewGuid().ToString("N")));
        Assert.Equal(1, missing.Exit);
        Assert.Contains("run.json", missing.Error);
    }
}
