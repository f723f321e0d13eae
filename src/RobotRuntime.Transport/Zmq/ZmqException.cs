namespace RobotRuntime.Transport.Zmq;

/// <summary>A libzmq call failed during setup (creating, configuring, binding or connecting a socket).</summary>
public sealed class ZmqException : Exception
{
    /// <summary>Creates the exception for libzmq error <paramref name="errorNumber"/>.</summary>
    public ZmqException(int errorNumber, string message) : base(message) => ErrorNumber = errorNumber;

    /// <summary>libzmq's errno value (an ordinary errno, or one of libzmq's own such as EFSM).</summary>
    public int ErrorNumber { get; }
}
