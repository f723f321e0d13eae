using System.Device.Gpio;
using RobotRuntime.Cli.Runtime;
using RobotRuntime.Safety;
using RobotRuntime.SimServer;

namespace RobotRuntime.Cli.Tests;

/// <summary>
/// rr run with a hardware e-stop and enable line, against the simulator's arm over the firmware
/// protocol (in this process, real sockets) and a GPIO chip of the test's own: what the arm is told
/// and what the operator sees when the e-stop is pressed, held and released.
/// </summary>
public sealed class GpioRunTests : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("rr-gpio-run-").FullName;

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    [Fact]
    public void ThePressedEStopHoldsTheArmDropsTheEnableLineAndRefusesAResetUntilReleased()
    {
        using var host = SimServerHost.Start(new SimServerOptions
        {
            Task = "reach", StateEndpoint = "tcp://127.0.0.1:*", CommandEndpoint = "tcp://127.0.0.1:*", ControlEndpoint = "tcp://127.0.0.1:*",
            FrontCameraEndpoint = "tcp://127.0.0.1:*", WristCameraEndpoint = "tcp://127.0.0.1:*",
            CameraRateHz = 30, CameraWidth = 32, CameraHeight = 32, WatchdogMilliseconds = 500, Quiet = true,
        });
        var link = host.Endpoints.LinkSettings;
        var config = RunConfig.Parse($$"""
            rate_hz: 20
            runs_folder: {{Path.Combine(_folder, "runs")}}
            arm: {state: "{{link.StateAddress}}", command: "{{link.CommandAddress}}", control: "{{link.ControlAddress}}", key: "{{AgentCommandTests.KeyFileFor(link)}}"}
            policy: {kind: hold-still}
            safety:
              max_state_age: 200ms
              max_deadline_misses: 25
              estop_gpio: {chip: 0, line: 17, active: low, debounce: 20ms}
              enable_gpio: {chip: 0, line: 27, active: high}
            metrics: {port: 0}
            """, "gpio.yaml");
        var driver = new RobotRuntime.Gpio.Tests.FakeGpioDriver(32);
        driver.Set(17, PinValue.High); // released

        var phase = 0;
        var refusedWhilePressed = "";
        var scrapedWhileHeld = "";
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        var seen = new List<string>();
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        var hooks = new RuntimeHooks
        {
            GpioDriverForChip = _ => driver,
            Tick = session =>
            {
                if (DateTime.UtcNow > deadline)
                    return false;
                var gpio = session.Gpio!;
                var hold = session.Loop.Status.HoldReason;
                switch (phase)
                {
                    case 0 when gpio.EnableEnergised && hold == HoldReason.None:
                        seen.Add("acting, enable on");
                        driver.Set(17, PinValue.Low); // the operator hits the button
                        phase = 1;
                        break;
                    case 1 when hold == HoldReason.EmergencyStop && !gpio.EnableEnergised:
                        seen.Add("held, enable off");
                        refusedWhilePressed = session.OperatorReset().Message;
                        scrapedWhileHeld = http.GetStringAsync(session.MetricsUrl).GetAwaiter().GetResult();
                        driver.Set(17, PinValue.High); // and twists it free
                        phase = 2;
                        break;
                    case 2 when !gpio.EmergencyStopPressed:
                        var reset = session.OperatorReset();
                        if (reset.Succeeded)
                        {
                            seen.Add("reset");
                            phase = 3;
                        }
                        break;
                    case 3 when gpio.EnableEnergised && hold == HoldReason.None:
                        seen.Add("acting again, enable on");
                        return false;
                }
                return true;
            },
        };
        var output = new StringWriter();
        var error = new StringWriter();

        var exit = RunCommand.Execute(config, hooks, output, error, input: null);

        var text = output.ToString();
        Assert.True(exit == 0, $"exit {exit}: {error}\n{text}");
        Assert.Equal(["acting, enable on", "held, enable off", "reset", "acting again, enable on"], seen);
        Assert.Contains("rr: GPIO e-stop gpiochip0 line 17 (active low), debounce 20 ms; enable gpiochip0 line 27 (active high)", text);
        Assert.Contains("rr: HOLD EmergencyStop: e-stop: the hardware e-stop on gpiochip0 line 17 (active low) is pressed; release it to allow a reset", text);
        Assert.Contains("rr: e-stop sent to the arm: ESTOP acknowledged", text);
        Assert.Contains("the Hardware e-stop input is still asserted", refusedWhilePressed);
        // What a Prometheus server scraping the run saw while the arm was held.
        Assert.Matches(@"rr: metrics for Prometheus at http://127\.0\.0\.1:\d+/metrics", text);
        Assert.Contains("\nrr_holding 1\n", scrapedWhileHeld);
        Assert.Contains("\nrr_hold_reason{reason=\"EmergencyStop\"} 1\n", scrapedWhileHeld);
        Assert.Contains("\nrr_holds_total{reason=\"EmergencyStop\"} 1\n", scrapedWhileHeld);
        Assert.Contains("\nrr_arm_link_up 1\n", scrapedWhileHeld);
        Assert.Matches(@"\nrr_cycles_total [1-9]\d*\n", scrapedWhileHeld);
        // The enable line: off at start, on while acting, off for the e-stop, on again, off at the end.
        var enableWrites = driver.Writes.Where(w => w.Pin == 27).Select(w => w.Value).ToList();
        Assert.Equal([PinValue.High, PinValue.Low, PinValue.High, PinValue.Low], Collapse(enableWrites));
        Assert.Equal(PinValue.Low, driver.Get(27));
    }

    private static List<PinValue> Collapse(List<PinValue> values) =>
        values.Where((v, i) => i == 0 || v != values[i - 1]).ToList();
}
