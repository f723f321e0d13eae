using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace RobotRuntime.EndToEnd.Tests;

/// <summary><c>rr sim-server</c> as the arm of a process test: its five loopback ports and its start.</summary>
internal static class SimServerProcess
{
    /// <summary>Five free loopback ports (state, command, control, front camera, wrist camera), fixed so a restarted server takes the same ones.</summary>
    public static int[] FreePorts()
    {
        var listeners = Enumerable.Range(0, 5).Select(_ => new TcpListener(IPAddress.Loopback, 0)).ToList();
        listeners.ForEach(l => l.Start());
        var ports = listeners.Select(l => ((IPEndPoint)l.LocalEndpoint).Port).ToArray();
        listeners.ForEach(l => l.Stop());
        return ports;
    }

    /// <summary>Starts a reach task (seed 3, watchdog 300 ms) on <paramref name="ports"/>, with the cameras at the given rate and size (rate 0: none).</summary>
    public static RrChild Start(int[] ports, double cameraRate, int cameraSize) => RrChild.Start("sim-server", "--task", "reach", "--seed", "3",
        "--camera-rate", cameraRate.ToString(CultureInfo.InvariantCulture), "--camera-size", cameraSize.ToString(CultureInfo.InvariantCulture),
        "--watchdog", "300ms",
        "--state", $"tcp://127.0.0.1:{ports[0]}", "--command", $"tcp://127.0.0.1:{ports[1]}", "--control", $"tcp://127.0.0.1:{ports[2]}",
        "--camera-front", $"tcp://127.0.0.1:{ports[3]}", "--camera-wrist", $"tcp://127.0.0.1:{ports[4]}");
}
