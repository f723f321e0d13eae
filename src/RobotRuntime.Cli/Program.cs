using RobotRuntime.Cli;

return RrCommand.Create().Parse(args).Invoke();
