using RobotRuntime.Environments;

namespace RobotRuntime.Sim.Tabletop;

/// <summary>
/// Hand-written controllers that solve the tabletop tasks from privileged state (object
/// positions the agent never sees), acting through the public end-effector-delta action space.
/// They prove the tasks are solvable, check the reward and success flags, and drive the preview clips.
/// </summary>
public static class ScriptedController
{
    private const double PushHeight = 0.015;
    private const double TravelHeight = 0.07;

    /// <summary>Writes the next end-effector-delta action [dx, dy, dz, gripper] for the environment's task.</summary>
    /// <exception cref="ArgumentException">The environment is not in <see cref="ActionMode.EndEffectorDelta"/> mode.</exception>
    public static void Act(TabletopEnvironment environment, Span<float> action)
    {
        if (environment.Spec.Action.Mode != ActionMode.EndEffectorDelta)
            throw new ArgumentException($"scripted controllers act in {ActionMode.EndEffectorDelta} mode; this environment is in {environment.Spec.Action.Mode}", nameof(environment));
        var scene = environment.Scene;
        (double X, double Y, double Z) desired;
        var gripper = -1f;
        switch (environment.Task)
        {
            case ReachTask reach:
                desired = reach.Target(scene);
                break;
            case PeekTask peek:
                var (padX, padY) = peek.Pad(scene);
                desired = (padX, padY, PushHeight);
                break;
            case PushTask push:
                desired = PushWaypoint(push, scene);
                gripper = 1f;
                break;
            case PickPlaceTask pick:
                (desired, gripper) = PickWaypoint(pick, scene, environment.Setpoint);
                break;
            default:
                throw new ArgumentException($"no scripted controller for task '{environment.Task.Name}'", nameof(environment));
        }
        var setpoint = environment.Setpoint;
        action[0] = Step(desired.X - setpoint.X);
        action[1] = Step(desired.Y - setpoint.Y);
        action[2] = Step(desired.Z - setpoint.Z);
        action[3] = gripper;

        static float Step(double metres) => (float)Math.Clamp(metres / TabletopEnvironment.MaxEndEffectorStep, -1, 1);
    }

    private static ((double X, double Y, double Z) Target, float Gripper) PickWaypoint(PickPlaceTask pick, TabletopScene scene, (double X, double Y, double Z) setpoint)
    {
        var (cubeX, cubeY, cubeZ) = pick.Cube(scene);
        var (tipX, tipY, tipZ) = scene.Tip;
        var closing = scene.GripperClosing();
        var overCube = Math.Sqrt((tipX - cubeX) * (tipX - cubeX) + (tipY - cubeY) * (tipY - cubeY));
        var held = cubeZ > PickPlaceTask.CubeHalf + 0.01 && overCube < 0.02 && closing > 0.2;
        if (held || (overCube < 0.012 && Math.Abs(tipZ - cubeZ) < 0.012 && closing > 0.2))
            return (pick.Goal(scene), 1f); // grasped (or closing on it): carry it to the marker
        if (overCube < 0.012 && Math.Abs(tipZ - cubeZ) < 0.012)
            return ((cubeX, cubeY, cubeZ), 1f); // around the cube: close
        if (overCube < 0.012)
            return ((cubeX, cubeY, cubeZ), -1f); // above it, open: go down
        return ((cubeX, cubeY, TravelHeight), -1f); // travel above the table, open
    }

    private static (double X, double Y, double Z) PushWaypoint(PushTask push, TabletopScene scene)
    {
        var (puckX, puckY, _) = push.Puck(scene);
        var (goalX, goalY) = push.Goal(scene);
        var (tipX, tipY, tipZ) = scene.Tip;
        var toGoalX = goalX - puckX;
        var toGoalY = goalY - puckY;
        var length = Math.Max(Math.Sqrt(toGoalX * toGoalX + toGoalY * toGoalY), 1e-6);
        var directionX = toGoalX / length;
        var directionY = toGoalY / length;
        // Tip relative to the puck, along the push line and across it.
        var along = (tipX - puckX) * directionX + (tipY - puckY) * directionY;
        var across = Math.Abs(-(tipX - puckX) * directionY + (tipY - puckY) * directionX);
        var behindX = puckX - 0.06 * directionX;
        var behindY = puckY - 0.06 * directionY;
        if (tipZ < 0.035 && along < -0.03 && across < 0.012)
            return (puckX + 0.04 * directionX, puckY + 0.04 * directionY, PushHeight); // in line behind the puck: push
        var fromBehind = Math.Sqrt((tipX - behindX) * (tipX - behindX) + (tipY - behindY) * (tipY - behindY));
        if (fromBehind < 0.012)
            return (behindX, behindY, PushHeight); // above the start of the push: go down
        var nearPuck = Math.Sqrt((tipX - puckX) * (tipX - puckX) + (tipY - puckY) * (tipY - puckY)) < 0.08;
        if (tipZ < TravelHeight - 0.02 && nearPuck)
            return (tipX, tipY, TravelHeight); // low and off the line next to the puck: lift before moving
        return (behindX, behindY, TravelHeight);
    }
}
