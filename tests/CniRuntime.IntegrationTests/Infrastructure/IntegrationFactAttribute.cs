namespace CniRuntime.IntegrationTests.Infrastructure;

/// <summary>
/// A fact that needs the integration prerequisites (<see cref="Prerequisites"/>): skipped with the exact reason
/// when they are missing, except under CI (<c>CI=true</c>), where it runs and <see cref="Prerequisites.Require"/>
/// fails it with that reason.
/// </summary>
[AttributeUsage(AttributeTargets.Method, AllowMultiple = false)]
public sealed class IntegrationFactAttribute : FactAttribute
{
    public IntegrationFactAttribute()
    {
        if (Prerequisites.SkipReason is { } reason)
        {
            Skip = reason;
        }
    }
}

/// <summary>The theory counterpart of <see cref="IntegrationFactAttribute"/>.</summary>
[AttributeUsage(AttributeTargets.Method, AllowMultiple = false)]
public sealed class IntegrationTheoryAttribute : TheoryAttribute
{
    public IntegrationTheoryAttribute()
    {
        if (Prerequisites.SkipReason is { } reason)
        {
            Skip = reason;
        }
    }
}
