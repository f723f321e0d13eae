using System.Device.Gpio;
using System.Device.Gpio.Drivers;
using System.Globalization;
using RobotRuntime.Timing;

namespace RobotRuntime.Safety.Gpio;

/// <summary>One GPIO line: a chip (<c>/dev/gpiochipN</c>), a line offset on it, and which level means "active".</summary>
/// <param name="Chip">The chip number N of <c>/dev/gpiochipN</c>.</param>
/// <param name="Line">The line offset on the chip.</param>
/// <param name="ActiveLow">Whether the low level is the active one (a normally-closed e-stop wired to ground: released reads high… see docs).</param>
public sealed record GpioLine(int Chip, int Line, bool ActiveLow)
{
    /// <summary>"gpiochip0 line 17 (active low)".</summary>
    public override string ToString() =>
        string.Create(CultureInfo.InvariantCulture, $"gpiochip{Chip} line {Line} (active {(ActiveLow ? "low" : "high")})");
}

/// <summary>Which GPIO lines the runtime uses for safety, and how.</summary>
public sealed record GpioSafetyOptions
{
    /// <summary>The e-stop input: while active, the safety filter holds (<see cref="EmergencyStopSource.Hardware"/>); null: none.</summary>
    public GpioLine? EmergencyStop { get; init; }

    /// <summary>How long the input must read released without interruption before the e-stop is released. A press acts at once.</summary>
    public TimeSpan Debounce { get; init; } = TimeSpan.FromMilliseconds(20);

    /// <summary>The enable output: driven active only while the runtime is armed and acting; null: none.</summary>
    public GpioLine? Enable { get; init; }

    /// <summary>How often the input is read and the output updated.</summary>
    public TimeSpan PollInterval { get; init; } = TimeSpan.FromMilliseconds(2);
}

/// <summary>A GPIO line could not be opened or driven; the message names the chip, the line and what to check.</summary>
public sealed class GpioSafetyException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>
/// A hardware e-stop input and an enable output on GPIO lines (System.Device.Gpio; libgpiod
/// character devices by default), on a thread of their own:
/// <list type="bullet">
/// <item>The e-stop input asserts the safety filter's <see cref="EmergencyStopSource.Hardware"/> e-stop
/// input the first time it reads active (no debounce on a press), and releases it only after it has
/// read released for <see cref="GpioSafetyOptions.Debounce"/> without interruption. A line that cannot
/// be read (a read error, a chip that vanished) counts as pressed. The line is read once when it is
/// opened: pressed or unreadable then asserts the e-stop before the run can act.</item>
/// <item>The enable output is driven active only while <c>acting()</c> says the runtime is armed and
/// acting and the e-stop input is released; it drops within one poll interval of a hold, at once on an
/// e-stop press seen here, and on <see cref="Dispose"/>. A write that fails latches the e-stop (the
/// runtime no longer controls the line that lets the arm move).</item>
/// </list>
/// </summary>
/// <remarks>Setup and disposal from one thread; the properties from any thread.</remarks>
public sealed class GpioSafetyLines : IDisposable
{
    private readonly ISafetyFilter _filter;
    private readonly GpioSafetyOptions _options;
    private readonly Func<bool> _acting;
    private readonly Dictionary<int, GpioController> _controllers = [];
    private readonly Thread _thread;
    private readonly ManualResetEventSlim _stop = new();
    private readonly string _pressedText;
    private readonly string _releasedText;
    private volatile bool _pressed = true;
    private volatile bool _energised;
    private volatile string? _lastError;
    private long _releasedSinceNs = -1;
    private bool _readFailing;
    private bool _writeFailing;
    private bool _disposed;

    /// <summary>Opens the lines and starts the thread.</summary>
    /// <param name="filter">The safety filter the e-stop feeds.</param>
    /// <param name="options">The lines.</param>
    /// <param name="acting">Whether the runtime is armed and acting now (the enable output follows it); called on the GPIO thread.</param>
    /// <param name="driverForChip">Makes the driver of a chip (default: libgpiod, <see cref="LibGpiodDriver"/>); tests pass their own.</param>
    /// <exception cref="GpioSafetyException">A chip or line cannot be opened; the message names it.</exception>
    public GpioSafetyLines(ISafetyFilter filter, GpioSafetyOptions options, Func<bool> acting, Func<int, GpioDriver>? driverForChip = null)
        : this(filter, options, acting, driverForChip, startThread: true)
    {
    }

    /// <summary>Without <paramref name="startThread"/>, nothing polls: tests call <see cref="Step"/> with their own clock.</summary>
    internal GpioSafetyLines(ISafetyFilter filter, GpioSafetyOptions options, Func<bool> acting, Func<int, GpioDriver>? driverForChip, bool startThread)
    {
        ArgumentNullException.ThrowIfNull(filter);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(acting);
        if (options.EmergencyStop is null && options.Enable is null)
            throw new ArgumentException("expected an e-stop input, an enable output or both; got neither", nameof(options));
        if (options.Debounce < TimeSpan.Zero || options.Debounce > TimeSpan.FromSeconds(5))
            throw new ArgumentException($"debounce: expected 0–5 s, got {options.Debounce.TotalMilliseconds} ms", nameof(options));
        if (!(options.PollInterval > TimeSpan.Zero) || options.PollInterval > TimeSpan.FromMilliseconds(100))
            throw new ArgumentException($"poll interval: expected (0, 100] ms, got {options.PollInterval.TotalMilliseconds} ms", nameof(options));
        if (options.EmergencyStop is { } e && options.Enable is { } o && e.Chip == o.Chip && e.Line == o.Line)
            throw new ArgumentException($"the e-stop input and the enable output are the same line ({e})", nameof(options));
        _filter = filter;
        _options = options;
        _acting = acting;
        driverForChip ??= chip => new LibGpiodDriver(chip);
        _pressedText = $"e-stop: the hardware e-stop on {options.EmergencyStop} is pressed; release it to allow a reset";
        _releasedText = $"the hardware e-stop on {options.EmergencyStop} is released";
        try
        {
            if (options.EmergencyStop is { } input)
            {
                var controller = Controller(input, driverForChip);
                Open(controller, input, () => controller.OpenPin(input.Line, PinMode.Input));
            }
            if (options.Enable is { } output)
            {
                var controller = Controller(output, driverForChip);
                Open(controller, output, () => controller.OpenPin(output.Line, PinMode.Output, Level(output, active: false)));
            }
        }
        catch
        {
            CloseAll();
            throw;
        }
        // The first read decides the starting state: pressed or unreadable asserts the e-stop (and the
        // arm is told), released is released (there is no press to debounce yet). The run never acts
        // on an input it has not read.
        _pressed = false;
        if (options.EmergencyStop is { } first)
        {
            _releasedSinceNs = long.MinValue / 2;
            ReadInput(first, MonotonicClock.NowNanoseconds);
        }
        _thread = new Thread(Run) { IsBackground = true, Name = "rr gpio safety" };
        if (startThread)
            _thread.Start();
    }

    /// <summary>Whether the e-stop input counts as pressed now (pressed, bouncing, unread or unreadable).</summary>
    public bool EmergencyStopPressed => _pressed;

    /// <summary>Whether the enable output is driven active now.</summary>
    public bool EnableEnergised => _energised;

    /// <summary>The last read or write failure, or null.</summary>
    public string? LastError => _lastError;

    /// <summary>The lines in use, for the run's report: "e-stop gpiochip0 line 17 (active low), debounce 20 ms; enable gpiochip0 line 27 (active high)".</summary>
    public string Describe() => string.Join("; ", new[]
    {
        _options.EmergencyStop is { } e ? string.Create(CultureInfo.InvariantCulture, $"e-stop {e}, debounce {_options.Debounce.TotalMilliseconds:0} ms") : null,
        _options.Enable is { } o ? $"enable {o}" : null,
    }.Where(s => s is not null));

    private GpioController Controller(GpioLine line, Func<int, GpioDriver> driverForChip)
    {
        if (_controllers.TryGetValue(line.Chip, out var existing))
            return existing;
        GpioDriver driver;
        try
        {
            driver = driverForChip(line.Chip);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            throw new GpioSafetyException(
                $"GPIO chip /dev/gpiochip{line.Chip} (for {line}) cannot be opened: {Unwrap(e)}. Check that the chip exists (`ls /dev/gpiochip*`, `gpiodetect`), " +
                "that this user may open it (group gpio, or a udev rule), and that libgpiod is installed (Debian's libgpiod2; scripts/bootstrap installs it).", e);
        }
        var controller = new GpioController(driver);
        _controllers[line.Chip] = controller;
        return controller;
    }

    private static void Open(GpioController controller, GpioLine line, Action open)
    {
        try
        {
            if (line.Line < 0 || line.Line >= controller.PinCount)
                throw new GpioSafetyException($"{line}: gpiochip{line.Chip} has lines 0–{controller.PinCount - 1}");
            open();
        }
        catch (Exception e) when (e is not GpioSafetyException and not OutOfMemoryException)
        {
            throw new GpioSafetyException($"{line} cannot be opened: {Unwrap(e)} (is another program holding it? `gpioinfo gpiochip{line.Chip}` shows its consumer)", e);
        }
    }

    private static string Unwrap(Exception e) => (e is TypeInitializationException { InnerException: { } inner } ? inner : e).Message.TrimEnd('.');

    private static PinValue Level(GpioLine line, bool active) => active != line.ActiveLow ? PinValue.High : PinValue.Low;

    private void Run()
    {
        while (!_stop.Wait(_options.PollInterval))
            Step(MonotonicClock.NowNanoseconds);
    }

    /// <summary>One poll: read the input, debounce, drive the output. Public for tests that step time themselves.</summary>
    internal void Step(long nowNs)
    {
        if (_options.EmergencyStop is { } input)
            ReadInput(input, nowNs);
        if (_options.Enable is { } output)
            DriveOutput(output);
    }

    private void ReadInput(GpioLine input, long nowNs)
    {
        bool active;
        try
        {
            active = _controllers[input.Chip].Read(input.Line) == Level(input, active: true);
            if (_readFailing)
            {
                _readFailing = false;
                _lastError = null;
            }
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            if (!_readFailing)
            {
                _readFailing = true;
                _lastError = $"{input} could not be read: {Unwrap(e)}";
                _filter.SetEmergencyStopInput(EmergencyStopSource.Hardware, true,
                    $"e-stop: the hardware e-stop on {input} could not be read ({Unwrap(e)}); an unreadable e-stop counts as pressed");
            }
            _releasedSinceNs = -1;
            _pressed = true;
            return;
        }
        if (active)
        {
            _releasedSinceNs = -1;
            if (!_pressed)
            {
                _pressed = true;
                DropOutput(); // at once, not at the next poll
                _filter.SetEmergencyStopInput(EmergencyStopSource.Hardware, true, _pressedText);
            }
            return;
        }
        if (_releasedSinceNs < 0)
            _releasedSinceNs = nowNs;
        if (_pressed && nowNs - _releasedSinceNs >= _options.Debounce.Ticks * 100)
        {
            _pressed = false;
            _filter.SetEmergencyStopInput(EmergencyStopSource.Hardware, false, _releasedText);
        }
    }

    private void DriveOutput(GpioLine output)
    {
        bool want;
        try
        {
            want = !_pressed && !_filter.IsHolding && _acting();
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            want = false;
            _lastError = $"deciding the enable output failed: {e.Message}";
        }
        if (want == _energised)
            return;
        Write(output, want);
    }

    private void DropOutput()
    {
        if (_options.Enable is { } output && _energised)
            Write(output, false);
    }

    private void Write(GpioLine output, bool active)
    {
        try
        {
            _controllers[output.Chip].Write(output.Line, Level(output, active));
            _energised = active;
            _writeFailing = false;
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // The line's level is now unknown: the arm is stopped (once per failure, retried each poll).
            _lastError = $"{output} could not be written: {Unwrap(e)}";
            if (!_writeFailing)
            {
                _writeFailing = true;
                _filter.EmergencyStop(EmergencyStopSource.Hardware,
                    $"e-stop: the enable output {output} could not be driven ({Unwrap(e)}); the runtime no longer controls it");
            }
        }
    }

    private void CloseAll()
    {
        foreach (var controller in _controllers.Values)
        {
            try
            {
                controller.Dispose();
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                _lastError = $"closing GPIO: {e.Message}";
            }
        }
        _controllers.Clear();
    }

    /// <summary>Stops the thread, drives the enable output inactive and closes the lines. The e-stop input keeps its last value in the filter.</summary>
    public void Dispose()
    {
        if (_disposed)
            return;
        _disposed = true;
        _stop.Set();
        if (_thread.IsAlive)
            _thread.Join();
        if (_options.Enable is { } output)
        {
            try
            {
                _controllers[output.Chip].Write(output.Line, Level(output, active: false));
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                _lastError = $"{output} could not be driven inactive at shutdown: {Unwrap(e)}";
            }
            _energised = false;
        }
        CloseAll();
        _stop.Dispose();
    }
}
