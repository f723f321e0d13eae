using System.CommandLine;
using RobotRuntime.Cli.Doctor;
using RobotRuntime.Cli.Recording;
using RobotRuntime.Cli.Runtime;
using RobotRuntime.Cli.SimCommands;

namespace RobotRuntime.Cli;

/// <summary>The <c>rr</c> command line: one root with a verb per task.</summary>
public static class RrCommand
{
    /// <summary>Builds the root command with every verb.</summary>
    public static RootCommand Create()
    {
        var root = new RootCommand("rr — RobotRuntime: vision-based, model-based RL control for robot arms.");
        root.Subcommands.Add(DoctorCommand.Create());
        root.Subcommands.Add(SimCommand.Create());
        root.Subcommands.Add(SimServerCommand.Create());
        root.Subcommands.Add(RunCommand.Create());
        root.Subcommands.Add(DemoCommand.Create());
        root.Subcommands.Add(BenchCommand.Create());
        root.Subcommands.Add(RecordCommand.Create());
        root.Subcommands.Add(CalibrateCommand.Create());
        root.Subcommands.Add(ReplayCommand.Create());
        root.Subcommands.Add(LogCommand.Create());
        root.Subcommands.Add(KeygenCommand.Create());
        root.Subcommands.Add(AgentCommands.TrainCommand.Create());
        root.Subcommands.Add(AgentCommands.EvalCommand.Create());
        root.Subcommands.Add(Grid.GridCommand.Create());
        root.Subcommands.Add(Pretraining.CollectCommand.Create());
        root.Subcommands.Add(Pretraining.PretrainCommand.Create());
        root.Subcommands.Add(Pretraining.ProbeCommand.Create());
        return root;
    }
}
