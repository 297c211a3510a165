using System.Runtime.ExceptionServices;
using System.Runtime.InteropServices;

namespace CniRuntime.Namespaces;

/// <summary>
/// Runs a synchronous body on a fresh <see cref="Thread"/> that exists for that body alone, so a thread whose network
/// namespace was changed is never handed back to anyone: it exits when the body returns.
/// </summary>
/// <remarks>
/// The body's thread must not create threads while it is inside another namespace (they would inherit it), and
/// completing a task from it could make the thread pool inject a worker from that thread. So the body's thread only
/// stores its outcome and sets an event; the asynchronous form learns of it through a wait registered beforehand by
/// the caller's thread (<see cref="ThreadPool.RegisterWaitForSingleObject(WaitHandle, WaitOrTimerCallback, object, int, bool)"/>),
/// whose callback runs on a pool thread and completes the task there. This holds even when the body could not
/// restore its namespace.
/// </remarks>
internal static class DedicatedThread
{
    // The body needs little stack: a few P/Invokes. User actions (Run) get the default.
    private const int SmallStack = 256 * 1024;

    private static volatile bool _runtimeThreadsStarted;

    /// <summary>Runs <paramref name="body"/> on a dedicated thread and blocks until it has finished.</summary>
    public static T Run<T>(string name, Func<T> body, bool smallStack = false)
    {
        EnsureRuntimeThreads();
        var operation = new Operation<T>(body);
        var thread = NewThread(name, operation.Execute, smallStack);
        thread.UnsafeStart();
        thread.Join();
        return operation.GetResult();
    }

    /// <summary>Runs <paramref name="body"/> on a dedicated thread; the task completes on a pool thread.</summary>
    public static Task<T> RunAsync<T>(string name, Func<T> body, bool smallStack = false)
    {
        EnsureRuntimeThreads();
        var operation = new AsyncOperation<T>(body);
        operation.Start(NewThread(name, operation.Execute, smallStack));
        return operation.Task;
    }

    /// <summary>
    /// Makes the runtime start its signal-handling thread (".NET SigHandler") here, on a normal thread, if it has not
    /// yet. It is created lazily by the first <c>Process.Start</c> (or signal registration) of the process; if that
    /// happened inside a namespace, the thread would live there for good, and it queues the SIGCHLD and signal work
    /// that makes the pool inject workers. Registering and disposing a no-op SIGCONT handler starts it, and it stays.
    /// </summary>
    private static void EnsureRuntimeThreads()
    {
        if (_runtimeThreadsStarted)
        {
            return;
        }

        PosixSignalRegistration.Create(PosixSignal.SIGCONT, static _ => { }).Dispose();
        _runtimeThreadsStarted = true;
    }

    private static Thread NewThread(string name, Action execute, bool smallStack) =>
        new(new ThreadStart(execute), smallStack ? SmallStack : 0) { IsBackground = true, Name = name };

    private class Operation<T>(Func<T> body)
    {
        private T? _result;
        private ExceptionDispatchInfo? _error;

        public void Execute()
        {
            try
            {
                _result = body();
            }
#pragma warning disable CA1031 // Every outcome is carried back to the caller's thread.
            catch (Exception ex)
#pragma warning restore CA1031
            {
                _error = ExceptionDispatchInfo.Capture(ex);
            }
            finally
            {
                Finished();
            }
        }

        public T GetResult()
        {
            _error?.Throw();
            return _result!;
        }

        protected virtual void Finished()
        {
        }
    }

    // The event is disposed when the wait fires (Complete) or when the start fails; nothing else holds it.
#pragma warning disable CA1001
    private sealed class AsyncOperation<T>(Func<T> body) : Operation<T>(body)
#pragma warning restore CA1001
    {
        private readonly TaskCompletionSource<T> _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly ManualResetEvent _finished = new(false);
        private RegisteredWaitHandle? _registration;

        public Task<T> Task => _completion.Task;

        public void Start(Thread thread)
        {
            // Registered from the caller's thread, before the dedicated one exists: the pool's wait thread (if this
            // creates it) and the callback's worker are never made from inside a namespace.
            _registration = ThreadPool.UnsafeRegisterWaitForSingleObject(
                _finished,
                static (state, _) => ((AsyncOperation<T>)state!).Complete(),
                this,
                Timeout.Infinite,
                executeOnlyOnce: true);
            try
            {
                thread.UnsafeStart();
            }
            catch
            {
                _registration.Unregister(null);
                _finished.Dispose();
                throw;
            }
        }

        // On the dedicated thread: only an event is set, which creates no thread.
        protected override void Finished() => _finished.Set();

        private void Complete()
        {
            _registration!.Unregister(null);
            _finished.Dispose();
            try
            {
                _completion.SetResult(GetResult());
            }
#pragma warning disable CA1031 // Handed to the awaiting caller.
            catch (Exception ex)
#pragma warning restore CA1031
            {
                _completion.SetException(ex);
            }
        }
    }
}
