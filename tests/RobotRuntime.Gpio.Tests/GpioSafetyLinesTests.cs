using System.Device.Gpio;
using RobotRuntime.Arm;
using RobotRuntime.Safety;
using RobotRuntime.Safety.Gpio;

namespace RobotRuntime.Gpio.Tests;

/// <summary>
/// The GPIO e-stop and enable lines against a real <see cref="SafetyFilter"/> and a GPIO driver of
/// the tests' own (this machine has no /dev/gpiochip*). Time is stepped by the tests: debouncing is
/// checked at exact instants, not against the wall clock.
/// </summary>
public sealed class GpioSafetyLinesTests
{
    private const long Ms = 1_000_000;
    private static readonly GpioLine EStop = new(Chip: 0, Line: 17, ActiveLow: true);
    private static readonly GpioLine Enable = new(Chip: 0, Line: 27, ActiveLow: false);

    private static SafetyFilter Filter() => new(new SafetyFilterOptions
    {
        Arm = new ArmDescription(Session: 1, ProtocolVersion: 2, Joints: [new JointLimits(-1, 1, 1, 10)],
            SupportedModes: new HashSet<ArmCommandMode> { ArmCommandMode.JointPosition }, StateRateHz: 100, WatchdogMilliseconds: 200,
            EndEffectorMaxTranslation: 0.01, EndEffectorMaxRotation: 0),
        CyclePeriod = TimeSpan.FromMilliseconds(10),
    });

    private static (GpioSafetyLines Lines, FakeGpioDriver Driver) Open(SafetyFilter filter, GpioSafetyOptions options, Func<bool>? acting = null)
    {
        var driver = new FakeGpioDriver(pins: 32);
        driver.Set(EStop.Line, PinValue.High); // released: an active-low e-stop reads high
        var lines = new GpioSafetyLines(filter, options, acting ?? (() => true), _ => driver, startThread: false);
        return (lines, driver);
    }

    /// <summary>A healthy cycle for the filter: link up, a fresh enabled arm state at the origin, a fresh frame, no command.</summary>
    private static SafetyInput Healthy()
    {
        var input = new SafetyInput
        {
            Requested = ArmCommand.JointPositions([0.0], 0),
            CommandTimestampNs = 1_000 * Ms,
            NowNs = 1_001 * Ms,
            LinkStatus = ArmLinkStatus.Up,
            HasArmState = true,
            ArmStateAgeNs = 1 * Ms,
            FrameAgeNs = 1 * Ms,
        };
        input.ArmState.Session = 1;
        input.ArmState.Status = ArmStatusFlags.Enabled;
        input.ArmState.JointCount = 1;
        return input;
    }

    private static HoldReason Cycle(SafetyFilter filter)
    {
        filter.Filter(Healthy(), out var result);
        return result.Reason;
    }

    /// <summary>A cycle (so that what the inputs say reaches the filter), then the operator's reset.</summary>
    private static bool ResetWorks(SafetyFilter filter)
    {
        Cycle(filter);
        return filter.Reset().Succeeded;
    }

    [Fact]
    public void TheLineIsReadWhenOpenedAndAPressedButtonAtStartHoldsFromTheStart()
    {
        // Released at start: released at once (no press to debounce), and the run may arm.
        var released = Filter();
        var (lines, _) = Open(released, new GpioSafetyOptions { EmergencyStop = EStop, Debounce = TimeSpan.FromMilliseconds(20) });
        using (lines)
        {
            Assert.False(lines.EmergencyStopPressed);
            Assert.True(ResetWorks(released));
        }

        // Pressed at start: asserted before anything runs; released only after the debounce.
        var pressed = Filter();
        var driver = new FakeGpioDriver(pins: 32);
        driver.Set(EStop.Line, PinValue.Low);
        using var held = new GpioSafetyLines(pressed, new GpioSafetyOptions { EmergencyStop = EStop, Debounce = TimeSpan.FromMilliseconds(20) }, () => true, _ => driver, startThread: false);
        Assert.True(held.EmergencyStopPressed);
        Cycle(pressed);
        var refused = pressed.Reset();
        Assert.False(refused.Succeeded);
        Assert.Contains("the hardware e-stop on gpiochip0 line 17 (active low) is pressed; release it to allow a reset", refused.Message);
        driver.Set(EStop.Line, PinValue.High);
        held.Step(100 * Ms);
        held.Step(119 * Ms);
        Assert.True(held.EmergencyStopPressed); // 19 ms released: not yet
        held.Step(120 * Ms);
        Assert.False(held.EmergencyStopPressed);
        Assert.True(ResetWorks(pressed));
    }

    [Fact]
    public void ALineUnreadableWhenOpenedHoldsFromTheStart()
    {
        var filter = Filter();
        var driver = new FakeGpioDriver(pins: 32) { FailReads = new IOException("Device or resource busy") };
        using var lines = new GpioSafetyLines(filter, new GpioSafetyOptions { EmergencyStop = EStop }, () => true, _ => driver, startThread: false);
        Assert.True(lines.EmergencyStopPressed);
        Assert.Equal(HoldReason.NotArmed, Cycle(filter));
        Assert.False(filter.Reset().Succeeded);
    }

    [Fact]
    public void APressActsAtOnceAndABouncingReleaseIsNotTakenUntilItSettles()
    {
        var filter = Filter();
        var (lines, driver) = Open(filter, new GpioSafetyOptions { EmergencyStop = EStop, Debounce = TimeSpan.FromMilliseconds(20) });
        using var _ = lines;
        Assert.True(ResetWorks(filter));

        driver.Set(EStop.Line, PinValue.Low); // pressed
        lines.Step(21 * Ms);
        Assert.True(lines.EmergencyStopPressed);
        Assert.Equal(HoldReason.EmergencyStop, Cycle(filter));

        // The contact bounces: released 5 ms, pressed again, then released for good at 30 ms.
        driver.Set(EStop.Line, PinValue.High);
        lines.Step(22 * Ms);
        driver.Set(EStop.Line, PinValue.Low);
        lines.Step(27 * Ms);
        driver.Set(EStop.Line, PinValue.High);
        lines.Step(30 * Ms);
        lines.Step(49 * Ms);
        Assert.True(lines.EmergencyStopPressed);
        Assert.False(ResetWorks(filter));
        lines.Step(50 * Ms);
        Assert.False(lines.EmergencyStopPressed);
        Assert.True(ResetWorks(filter));
    }

    [Fact]
    public void ALineThatCannotBeReadIsAPressedEStop()
    {
        var filter = Filter();
        var (lines, driver) = Open(filter, new GpioSafetyOptions { EmergencyStop = EStop, Debounce = TimeSpan.FromMilliseconds(10) });
        using var _ = lines;
        Assert.True(ResetWorks(filter));

        driver.FailReads = new IOException("No such device");
        lines.Step(11 * Ms);

        Assert.True(lines.EmergencyStopPressed);
        Assert.Equal("gpiochip0 line 17 (active low) could not be read: No such device", lines.LastError);
        Assert.Equal(HoldReason.EmergencyStop, Cycle(filter));
        var refused = filter.Reset();
        Assert.False(refused.Succeeded);
        Assert.Contains("could not be read (No such device); an unreadable e-stop counts as pressed", refused.Message);

        // Back again: released only after a full debounce of good reads.
        driver.FailReads = null;
        lines.Step(12 * Ms);
        Assert.Null(lines.LastError);
        Assert.True(lines.EmergencyStopPressed);
        lines.Step(22 * Ms);
        Assert.False(lines.EmergencyStopPressed);
    }

    [Fact]
    public void TheEnableOutputIsEnergisedOnlyWhileActingAndDropsOnAHoldAPressAndShutdown()
    {
        var filter = Filter();
        var acting = false;
        var (lines, driver) = Open(filter, new GpioSafetyOptions { EmergencyStop = EStop, Enable = Enable, Debounce = TimeSpan.FromMilliseconds(5) }, () => acting);
        Assert.Equal(PinValue.Low, driver.Get(Enable.Line)); // opened inactive

        Assert.True(ResetWorks(filter));
        lines.Step(6 * Ms);
        Assert.False(lines.EnableEnergised); // not acting yet
        acting = true;
        lines.Step(7 * Ms);
        Assert.True(lines.EnableEnergised);
        Assert.Equal(PinValue.High, driver.Get(Enable.Line));

        // A hold from elsewhere (the operator's e-stop reaching a cycle): dropped at the next poll.
        filter.EmergencyStop(EmergencyStopSource.Operator, "typed estop");
        Assert.Equal(HoldReason.EmergencyStop, Cycle(filter));
        lines.Step(8 * Ms);
        Assert.Equal(PinValue.Low, driver.Get(Enable.Line));

        // Reset and acting again; then the hardware e-stop: dropped in the same poll that reads it.
        Assert.True(ResetWorks(filter));
        lines.Step(9 * Ms);
        Assert.Equal(PinValue.High, driver.Get(Enable.Line));
        driver.Set(EStop.Line, PinValue.Low);
        var writesBefore = driver.Writes.Count;
        lines.Step(10 * Ms);
        Assert.Equal(PinValue.Low, driver.Get(Enable.Line));
        Assert.Equal((Enable.Line, PinValue.Low), driver.Writes[writesBefore]);

        driver.Set(EStop.Line, PinValue.High);
        lines.Step(11 * Ms);
        lines.Step(16 * Ms);
        Assert.True(ResetWorks(filter));
        lines.Step(17 * Ms);
        Assert.Equal(PinValue.High, driver.Get(Enable.Line));
        lines.Dispose();
        Assert.Equal(PinValue.Low, driver.Get(Enable.Line));
        Assert.True(driver.Disposed);
    }

    [Fact]
    public void AnActiveLowEnableIsDrivenHighWhenInactive()
    {
        var filter = Filter();
        var activeLow = Enable with { ActiveLow = true };
        var (lines, driver) = Open(filter, new GpioSafetyOptions { Enable = activeLow });
        Assert.Equal(PinValue.High, driver.Get(activeLow.Line));
        Assert.True(ResetWorks(filter));
        lines.Step(1 * Ms);
        Assert.Equal(PinValue.Low, driver.Get(activeLow.Line));
        lines.Dispose();
        Assert.Equal(PinValue.High, driver.Get(activeLow.Line));
    }

    [Fact]
    public void AnEnableOutputThatCannotBeWrittenLatchesTheEStop()
    {
        var filter = Filter();
        var (lines, driver) = Open(filter, new GpioSafetyOptions { Enable = Enable });
        using var _ = lines;
        Assert.True(ResetWorks(filter));
        driver.FailWrites = new IOException("Input/output error");

        lines.Step(1 * Ms);

        Assert.Equal(HoldReason.EmergencyStop, Cycle(filter));
        Assert.Contains("the enable output gpiochip0 line 27 (active high) could not be driven (Input/output error)", filter.HoldText);
    }

    [Fact]
    public void ALineTheChipDoesNotHaveOrAChipThatCannotBeOpenedIsNamed()
    {
        var filter = Filter();
        var driver = new FakeGpioDriver(pins: 8);
        var noLine = Assert.Throws<GpioSafetyException>(() => new GpioSafetyLines(filter, new GpioSafetyOptions { EmergencyStop = EStop }, () => true, _ => driver, startThread: false));
        Assert.Equal("gpiochip0 line 17 (active low): gpiochip0 has lines 0–7", noLine.Message);

        var noChip = Assert.Throws<GpioSafetyException>(() => new GpioSafetyLines(filter, new GpioSafetyOptions { EmergencyStop = EStop with { Chip = 3 } }, () => true,
            _ => throw new IOException("No such file or directory"), startThread: false));
        Assert.StartsWith("GPIO chip /dev/gpiochip3 (for gpiochip3 line 17 (active low)) cannot be opened: No such file or directory.", noChip.Message);
        Assert.Contains("libgpiod2", noChip.Message);
    }

    [Fact]
    public void OnThisMachineTheRealLibgpiodDriverSaysThereIsNoChip()
    {
        // No /dev/gpiochip* here: the default driver's failure is the message a user would see.
        Assert.False(File.Exists("/dev/gpiochip0"));
        var error = Assert.Throws<GpioSafetyException>(() => new GpioSafetyLines(Filter(), new GpioSafetyOptions { EmergencyStop = EStop }, () => true));
        Assert.StartsWith("GPIO chip /dev/gpiochip0 (for gpiochip0 line 17 (active low)) cannot be opened:", error.Message);
    }

    [Fact]
    public void SettingsThatCannotWorkAreRefused()
    {
        var filter = Filter();
        Assert.Contains("got neither", Assert.Throws<ArgumentException>(() => new GpioSafetyLines(filter, new GpioSafetyOptions(), () => true, _ => new FakeGpioDriver(32), startThread: false)).Message);
        Assert.Contains("the e-stop input and the enable output are the same line", Assert.Throws<ArgumentException>(() =>
            new GpioSafetyLines(filter, new GpioSafetyOptions { EmergencyStop = EStop, Enable = EStop with { ActiveLow = false } }, () => true, _ => new FakeGpioDriver(32), startThread: false)).Message);
        Assert.Contains("debounce: expected 0–5 s", Assert.Throws<ArgumentException>(() =>
            new GpioSafetyLines(filter, new GpioSafetyOptions { EmergencyStop = EStop, Debounce = TimeSpan.FromSeconds(9) }, () => true, _ => new FakeGpioDriver(32), startThread: false)).Message);
    }

    [Fact]
    public void ThePollingThreadDebouncesOnItsOwn()
    {
        // The real thread on the real clock: released within a generous bound, pressed within one.
        var filter = Filter();
        var driver = new FakeGpioDriver(pins: 32);
        driver.Set(EStop.Line, PinValue.High);
        using var lines = new GpioSafetyLines(filter, new GpioSafetyOptions { EmergencyStop = EStop, Debounce = TimeSpan.FromMilliseconds(10) }, () => true, _ => driver);
        Assert.True(SpinWait.SpinUntil(() => !lines.EmergencyStopPressed, TimeSpan.FromSeconds(10)));
        driver.Set(EStop.Line, PinValue.Low);
        Assert.True(SpinWait.SpinUntil(() => lines.EmergencyStopPressed, TimeSpan.FromSeconds(10)));
    }
}
