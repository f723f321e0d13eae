using RobotRuntime.Live;
using RobotRuntime.Telemetry;

namespace RobotRuntime.Cli.Recording;

/// <summary>Starts the live page for <c>rr record</c> and <c>rr replay</c>, which show camera frames without a control loop.</summary>
internal static class LiveWiring
{
    /// <summary>A board for cameras of one size, or an error naming the sizes when they differ.</summary>
    public static LiveStatusBoard Board(IReadOnlyList<string> cameras, IReadOnlyList<(int Width, int Height)> sizes, double rateHz, string what)
    {
        if (sizes.Distinct().Count() > 1)
            throw new ArgumentException($"--live-port shows all cameras at one size, but they differ ({string.Join(", ", cameras.Select((c, i) => $"{c} {sizes[i].Width}x{sizes[i].Height}"))}); give --size.");
        return new LiveStatusBoard(cameras, sizes[0].Width, sizes[0].Height, rateHz, what);
    }

    /// <summary>Starts the page on <paramref name="port"/> and says where it is.</summary>
    public static LivePageServer Start(LiveStatusBoard board, int port, string title, TextWriter output)
    {
        var server = LivePageServer.Start(board, new LivePageOptions { Port = port, Title = title });
        output.WriteLine($"live page: {server.Url}");
        output.Flush();
        return server;
    }
}
