namespace CniRuntime.Caching;

/// <summary>
/// Runs work at once on the caller's thread and hands back its outcome as a completed task, exactly as an async
/// method without an await would: exceptions in the task, a cancellation as a cancelled task.
/// </summary>
internal static class Synchronously
{
    public static Task<T> Run<T>(Func<T> work)
    {
        try
        {
            return Task.FromResult(work());
        }
        catch (OperationCanceledException ex)
        {
            var cancelled = new TaskCompletionSource<T>();
            cancelled.SetCanceled(ex.CancellationToken);
            return cancelled.Task;
        }
        catch (Exception ex)
        {
            return Task.FromException<T>(ex);
        }
    }

    public static Task Run(Action work) => Run<bool>(() =>
    {
        work();
        return true;
    });
}
