using System.Device.Gpio;

namespace RobotRuntime.Gpio.Tests;

/// <summary>A GPIO chip in memory: line levels the test sets, reads and writes that can be made to fail, every write recorded.</summary>
internal sealed class FakeGpioDriver(int pins) : GpioDriver
{
    private readonly PinValue[] _values = Enumerable.Repeat(PinValue.Low, pins).ToArray();
    private readonly PinMode[] _modes = new PinMode[pins];
    private readonly Lock _gate = new();

    public Exception? FailReads { get; set; }

    public Exception? FailWrites { get; set; }

    public List<(int Pin, PinValue Value)> Writes { get; } = [];

    public bool Disposed { get; private set; }

    public void Set(int pin, PinValue value)
    {
        lock (_gate)
            _values[pin] = value;
    }

    public PinValue Get(int pin)
    {
        lock (_gate)
            return _values[pin];
    }

    protected override int PinCount => _values.Length;

    protected override void OpenPin(int pinNumber) { }

    protected override void ClosePin(int pinNumber) { }

    protected override void SetPinMode(int pinNumber, PinMode mode) => _modes[pinNumber] = mode;

    protected override void SetPinMode(int pinNumber, PinMode mode, PinValue initialValue)
    {
        _modes[pinNumber] = mode;
        Set(pinNumber, initialValue);
    }

    protected override PinMode GetPinMode(int pinNumber) => _modes[pinNumber];

    protected override bool IsPinModeSupported(int pinNumber, PinMode mode) => true;

    protected override PinValue Read(int pinNumber)
    {
        if (FailReads is { } failure)
            throw failure;
        return Get(pinNumber);
    }

    protected override void Write(int pinNumber, PinValue value)
    {
        if (FailWrites is { } failure)
            throw failure;
        Set(pinNumber, value);
        lock (_gate)
            Writes.Add((pinNumber, value));
    }

    protected override WaitForEventResult WaitForEvent(int pinNumber, PinEventTypes eventTypes, CancellationToken cancellationToken) =>
        throw new NotSupportedException("the safety lines poll; they do not wait for events");

    protected override void AddCallbackForPinValueChangedEvent(int pinNumber, PinEventTypes eventTypes, PinChangeEventHandler callback) =>
        throw new NotSupportedException("the safety lines poll");

    protected override void RemoveCallbackForPinValueChangedEvent(int pinNumber, PinChangeEventHandler callback) =>
        throw new NotSupportedException("the safety lines poll");

    protected override void Dispose(bool disposing)
    {
        Disposed = true;
        base.Dispose(disposing);
    }
}
