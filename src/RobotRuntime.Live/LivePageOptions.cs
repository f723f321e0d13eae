namespace RobotRuntime.Live;

/// <summary>What an e-stop or reset request from the live page came to.</summary>
/// <param name="Accepted">The host did what was asked (a reset can be refused while a hold's cause persists).</param>
/// <param name="Message">What happened, shown on the page, e.g. the safety filter's refusal text.</param>
public readonly record struct LiveCommandResult(bool Accepted, string Message);

/// <summary>How the live page is served.</summary>
public sealed record LivePageOptions
{
    /// <summary>TCP port on 127.0.0.1; 0 picks a free one (see <see cref="LivePageServer.Url"/>).</summary>
    public int Port { get; init; }

    /// <summary>Status updates per second pushed to each page over server-sent events (1..30).</summary>
    public double UpdateRateHz { get; init; } = 10;

    /// <summary>Most camera images per second per camera the page fetches and the server encodes (0.5..30).</summary>
    public double FrameRateHz { get; init; } = 5;

    /// <summary>Makes the encoder of one camera's images (called once per camera); null: JPEG by <see cref="JpegFrameEncoder"/>.</summary>
    public Func<ILiveFrameEncoder>? CreateFrameEncoder { get; init; }

    /// <summary>The page's title, e.g. the run's name.</summary>
    public string Title { get; init; } = "RobotRuntime live";

    /// <summary>
    /// Called (on a server thread) when the page's e-stop button is pressed, with a text naming
    /// where it came from. Null (the default): the page offers no e-stop and <c>POST /estop</c> is 404.
    /// </summary>
    public Func<string, LiveCommandResult>? EmergencyStop { get; init; }

    /// <summary>
    /// Called (on a server thread) when the page's reset button is pressed. Null (the default): the
    /// page offers no reset and <c>POST /reset</c> is 404.
    /// </summary>
    public Func<LiveCommandResult>? Reset { get; init; }

    /// <summary>
    /// The run's operator key: when set, <c>POST /reset</c> is carried out only with the header
    /// <see cref="LivePageServer.OperatorKeyHeader"/> equal to it (403 otherwise). Anyone who can reach
    /// the page may press E-STOP; only the operator, who got the key from rr's terminal in the page's
    /// address (<c>#operator=KEY</c>, a fragment the browser never sends), may reset. Null: reset is
    /// open to any request with the command header (tools and tests that run no arm).
    /// </summary>
    public string? OperatorKey { get; init; }
}
