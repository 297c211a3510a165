using CniRuntime.Configuration;
using CniRuntime.Protocol;
using CniRuntime.Tests.Support;

namespace CniRuntime.Tests.Configuration;

/// <summary>Directory discovery: libcni's LoadNetworkConf rules, and broken neighbours that hide nothing.</summary>
public sealed class NetworkConfigDiscoveryTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    private static string List(string name, string type = "bridge") =>
        $$"""{"cniVersion":"1.0.0","name":"{{name}}","plugins":[{"type":"{{type}}"}]}""";

    [Fact]
    public async Task A_network_is_found_by_name()
    {
        _dir.File("10-a.conflist", List("a"));
        _dir.File("20-b.conflist", List("b", "ptp"));

        var list = await NetworkConfigLoader.LoadNetworkAsync(_dir.Path, "b");

        Assert.Equal("ptp", list.Plugins[0].Type);
        Assert.Equal(_dir.Combine("20-b.conflist"), list.Source);
    }

    [Fact]
    public async Task A_conflist_beats_a_conf_of_the_same_name_and_the_conf_is_the_fallback()
    {
        _dir.File("00-same.conf", """{"cniVersion":"0.3.1","name":"same","type":"ptp"}""");
        _dir.File("99-same.conflist", List("same", "bridge"));
        _dir.File("50-only.json", """{"cniVersion":"0.3.1","name":"only","type":"macvlan"}""");

        Assert.Equal("bridge", (await NetworkConfigLoader.LoadNetworkAsync(_dir.Path, "same")).Plugins[0].Type);
        Assert.Equal("macvlan", (await NetworkConfigLoader.LoadNetworkAsync(_dir.Path, "only")).Plugins[0].Type);
        var scan = await NetworkConfigLoader.ScanDirectoryAsync(_dir.Path);
        var shadowed = Assert.Single(scan.Diagnostics);
        Assert.Equal(ConfigDiagnosticKind.Shadowed, shadowed.Kind);
        Assert.Equal(_dir.Combine("00-same.conf"), shadowed.File);
    }

    [Fact]
    public async Task Files_load_conflists_first_then_confs_each_in_name_order()
    {
        _dir.File("b.conf", """{"name":"b-conf","type":"x"}""");
        _dir.File("a.json", """{"name":"a-json","type":"x"}""");
        _dir.File("z.conflist", List("z"));
        _dir.File("m.conflist", List("m"));

        var scan = await NetworkConfigLoader.ScanDirectoryAsync(_dir.Path);

        Assert.Equal(["m", "z", "a-json", "b-conf"], scan.Networks.Select(n => n.Name));
    }

    [Fact]
    public async Task A_missing_directory_has_no_configurations()
    {
        var missing = _dir.Combine("nope");

        var error = await Assert.ThrowsAsync<CniConfigNotFoundException>(() => NetworkConfigLoader.LoadNetworkAsync(missing, "x"));

        Assert.Equal($"no net configurations found in {missing}", error.Message);
        Assert.Null(error.RequestedName);
    }

    [Fact]
    public async Task An_unknown_name_is_not_found_with_libcnis_words()
    {
        _dir.File("a.conflist", List("a"));

        var error = await Assert.ThrowsAsync<CniConfigNotFoundException>(() => NetworkConfigLoader.LoadNetworkAsync(_dir.Path, "x"));

        Assert.Equal($"no net configuration with name \"x\" in {_dir.Path}", error.Message);
    }

    [Fact]
    public async Task A_malformed_neighbour_does_not_hide_other_networks()
    {
        _dir.File("00-broken.conflist", "{\"name\":");
        _dir.File("10-bad-type.conflist", """{"name":"other","plugins":[{}]}""");
        _dir.File("20-good.conflist", List("good"));

        var list = await NetworkConfigLoader.LoadNetworkAsync(_dir.Path, "good");
        var scan = await NetworkConfigLoader.ScanDirectoryAsync(_dir.Path);

        Assert.Equal("good", list.Name);
        Assert.Equal(2, scan.Diagnostics.Count);
        Assert.Equal(ConfigDiagnosticKind.Unreadable, scan.Diagnostics[0].Kind);
        Assert.Equal($"{_dir.Combine("00-broken.conflist")}: error parsing configuration list: unexpected end of JSON input", scan.Diagnostics[0].Message);
        Assert.Equal(ConfigDiagnosticKind.Invalid, scan.Diagnostics[1].Kind);
        Assert.Equal("other", scan.Diagnostics[1].NetworkName);
        Assert.Equal($"{_dir.Combine("10-bad-type.conflist")}: $.plugins[0].type: missing 'type'", scan.Diagnostics[1].Message);
    }

    [Theory]
    [InlineData("10-x.conflist", "error parsing configuration list")]
    [InlineData("10-x.conf", "error parsing configuration")]
    [InlineData("10-x.json", "error parsing configuration")]
    public async Task A_truncated_file_is_unexpected_end_of_json_input_with_libcnis_words(string file, string prefix)
    {
        var path = _dir.File(file, "{");
        var expected = $"{path}: {prefix}: unexpected end of JSON input";

        var loaded = await Assert.ThrowsAsync<CniConfigException>(() => NetworkConfigLoader.LoadFileAsync(path));
        var scan = await NetworkConfigLoader.ScanDirectoryAsync(_dir.Path);
        var notFound = await Assert.ThrowsAsync<CniConfigNotFoundException>(() => NetworkConfigLoader.LoadNetworkAsync(_dir.Path, "x"));

        Assert.Equal(expected, loaded.Message);
        Assert.Equal(CniErrorCode.DecodingFailure, loaded.Code);
        Assert.Equal(path, loaded.File);
        var diagnostic = Assert.Single(scan.Diagnostics);
        Assert.Equal((path, ConfigDiagnosticKind.Unreadable, expected), (diagnostic.File, diagnostic.Kind, diagnostic.Message));
        Assert.Equal($"no net configuration with name \"x\" in {_dir.Path} (1 unreadable: {expected})", notFound.Message);
    }

    [Fact]
    public async Task The_requested_network_being_broken_is_its_own_error()
    {
        _dir.File("10-bad-type.conflist", """{"name":"other","plugins":[{}]}""");

        var error = await Assert.ThrowsAsync<CniConfigException>(() => NetworkConfigLoader.LoadNetworkAsync(_dir.Path, "other"));

        Assert.Equal($"{_dir.Combine("10-bad-type.conflist")}: $.plugins[0].type: missing 'type'", error.Message);
    }

    [Fact]
    public async Task A_broken_file_later_in_order_does_not_replace_a_valid_earlier_one()
    {
        _dir.File("10-net.conflist", List("net"));
        _dir.File("20-net.conflist", """{"name":"net","plugins":[]}""");

        var list = await NetworkConfigLoader.LoadNetworkAsync(_dir.Path, "net");

        Assert.Equal(_dir.Combine("10-net.conflist"), list.Source);
    }

    [Fact]
    public async Task A_broken_file_earlier_in_order_wins_over_a_valid_later_one()
    {
        _dir.File("10-net.conflist", """{"name":"net","plugins":[]}""");
        _dir.File("20-net.conflist", List("net"));

        var error = await Assert.ThrowsAsync<CniConfigException>(() => NetworkConfigLoader.LoadNetworkAsync(_dir.Path, "net"));

        Assert.Equal(_dir.Combine("10-net.conflist"), error.File);
    }

    [Fact]
    public async Task When_the_name_is_missing_the_unreadable_files_are_listed()
    {
        _dir.File("00-broken.conflist", "not json");

        var error = await Assert.ThrowsAsync<CniConfigNotFoundException>(() => NetworkConfigLoader.LoadNetworkAsync(_dir.Path, "x"));

        Assert.Equal($"no net configuration with name \"x\" in {_dir.Path} (1 unreadable: {_dir.Combine("00-broken.conflist")}: error parsing configuration list: 'not json' is an invalid JSON literal. Expected the literal 'null'. (line 1, column 2))", error.Message);
        Assert.Single(error.UnreadableFiles);
    }

    [Fact]
    public async Task Nested_directories_and_other_extensions_are_ignored()
    {
        _dir.File("nested/a.conflist", List("nested"));
        _dir.File("upper.CONFLIST", List("upper"));
        _dir.File("notes.txt", "hello");
        _dir.File("top.conflist", List("top"));

        var scan = await NetworkConfigLoader.ScanDirectoryAsync(_dir.Path);

        Assert.Equal(["top"], scan.Networks.Select(n => n.Name));
        Assert.Empty(scan.Diagnostics);
    }

    [Fact]
    public void Directories_named_like_configurations_and_links_to_them_are_not_files_but_links_to_files_are()
    {
        Directory.CreateDirectory(_dir.Combine("20-dir.conflist"));
        File.CreateSymbolicLink(_dir.Combine("30-dirlink.conf"), _dir.Combine("20-dir.conflist"));
        var target = _dir.File("elsewhere/x.json", List("linked"));
        File.CreateSymbolicLink(_dir.Combine("40-filelink.conf"), target);
        File.CreateSymbolicLink(_dir.Combine("50-dangling.conflist"), _dir.Combine("nowhere"));
        _dir.File("10-a.conflist", List("a"));

        Assert.Equal(
            [_dir.Combine("10-a.conflist"), _dir.Combine("50-dangling.conflist"), _dir.Combine("40-filelink.conf")],
            NetworkConfigLoader.FindConfigFiles(_dir.Path));
    }

    [Fact]
    public void A_file_given_as_the_directory_has_no_configurations() =>
        Assert.Empty(NetworkConfigLoader.FindConfigFiles(_dir.File("plain.conflist", List("plain"))));

    [Fact]
    public async Task A_conf_file_holding_a_list_is_loaded_as_a_list()
    {
        _dir.File("10-list.conf", List("listconf", "ptp"));

        var list = await NetworkConfigLoader.LoadNetworkAsync(_dir.Path, "listconf");

        Assert.Equal("ptp", list.Plugins[0].Type);
    }

    public sealed class SubdirectoryPlugins : IDisposable
    {
        private readonly TempDirectory _dir = new();

        public void Dispose() => _dir.Dispose();

        [Fact]
        public async Task Without_plugins_the_subdirectory_supplies_them()
        {
            _dir.File("net.conflist", """{"cniVersion":"1.1.0","name":"net"}""");
            _dir.File("net/10-host-local.conf", """{"type":"host-local"}""");

            var list = await NetworkConfigLoader.LoadFileAsync(_dir.Combine("net.conflist"));

            Assert.Equal(["host-local"], list.Plugins.Select(p => p.Type));
        }

        [Fact]
        public async Task Inline_plugins_come_first_then_subdirectory_plugins_in_name_order()
        {
            _dir.File("net.conflist", """{"cniVersion":"1.1.0","name":"net","plugins":[{"type":"bridge"}]}""");
            _dir.File("net/20-b.conf", """{"type":"portmap"}""");
            _dir.File("net/10-a.conf", """{"type":"tuning"}""");
            _dir.File("net/30-c.json", """{"type":"ignored-extension"}""");

            var list = await NetworkConfigLoader.LoadFileAsync(_dir.Combine("net.conflist"));

            Assert.Equal(["bridge", "tuning", "portmap"], list.Plugins.Select(p => p.Type));
            var cached = NetworkConfigList.Parse(list.Bytes.Span);
            Assert.Equal(["bridge", "tuning", "portmap"], cached.Plugins.Select(p => p.Type));
            Assert.Equal("net", cached.Name);
        }

        [Theory]
        [InlineData("false")]
        [InlineData("\"false\"")]
        [InlineData("\"False\"")]
        public async Task LoadOnlyInlinedPlugins_false_merges_inline_and_subdirectory_plugins(string flag)
        {
            _dir.File("net.conflist", $$"""{"cniVersion":"1.1.0","name":"net","loadOnlyInlinedPlugins":{{flag}},"plugins":[{"type":"bridge"}]}""");
            _dir.File("net/10-a.conf", """{"type":"host-local"}""");

            var list = await NetworkConfigLoader.LoadFileAsync(_dir.Combine("net.conflist"));

            Assert.False(list.LoadOnlyInlinedPlugins);
            Assert.Equal(["bridge", "host-local"], list.Plugins.Select(p => p.Type));
        }

        [Fact]
        public async Task LoadOnlyInlinedPlugins_ignores_the_subdirectory()
        {
            _dir.File("net.conflist", """{"cniVersion":"1.1.0","name":"net","loadOnlyInlinedPlugins":true,"plugins":[{"type":"host-local"}]}""");
            _dir.File("net/10-a.conf", """{"type":"tuning"}""");

            var list = await NetworkConfigLoader.LoadFileAsync(_dir.Combine("net.conflist"));

            Assert.Equal(["host-local"], list.Plugins.Select(p => p.Type));
        }

        [Fact]
        public async Task Inline_plugins_with_an_empty_or_missing_subdirectory_are_fine()
        {
            _dir.File("net.conflist", """{"cniVersion":"1.1.0","name":"net","plugins":[{"type":"bridge"}]}""");
            var withoutSubdirectory = await NetworkConfigLoader.LoadFileAsync(_dir.Combine("net.conflist"));
            Directory.CreateDirectory(_dir.Combine("net"));
            var withEmptySubdirectory = await NetworkConfigLoader.LoadFileAsync(_dir.Combine("net.conflist"));

            Assert.Single(withoutSubdirectory.Plugins);
            Assert.Single(withEmptySubdirectory.Plugins);
        }

        [Fact]
        public async Task No_plugins_anywhere_is_an_error()
        {
            _dir.File("net.conflist", """{"cniVersion":"1.1.0","name":"net"}""");

            var error = await Assert.ThrowsAsync<CniConfigException>(() => NetworkConfigLoader.LoadFileAsync(_dir.Combine("net.conflist")));

            Assert.Equal($"{_dir.Combine("net.conflist")}: $.plugins: no plugin configs found", error.Message);
        }

        [Fact]
        public async Task A_broken_subdirectory_plugin_names_its_own_file()
        {
            _dir.File("net.conflist", """{"cniVersion":"1.1.0","name":"net"}""");
            _dir.File("net/10-a.conf", """{"ipam":{}}""");

            var error = await Assert.ThrowsAsync<CniConfigException>(() => NetworkConfigLoader.LoadFileAsync(_dir.Combine("net.conflist")));

            Assert.Equal($"{_dir.Combine("net", "10-a.conf")}: $.type: missing 'type'", error.Message);
        }
    }

    /// <summary>
    /// Files that cannot be read, made so that root cannot read them either (the tests run as root): each is a
    /// diagnostic naming the file and the reason, hides no other network, and never hangs or fills memory.
    /// </summary>
    public sealed class UnreadableFiles : IDisposable
    {
        private readonly TempDirectory _dir = new();

        public void Dispose() => _dir.Dispose();

        public static TheoryData<string> Kinds => ["dangling link", "too large", "fifo", "link to /dev/zero"];

        [Theory]
        [MemberData(nameof(Kinds))]
        public async Task An_unreadable_file_is_a_diagnostic_naming_the_file_and_the_reason(string kind)
        {
            var path = _dir.Combine("10-bad.conflist");
            var expected = $"{path}: {await PlantAsync(kind, path)}";
            _dir.File("20-ok.conflist", List("ok"));

            var scan = await Bounded(() => NetworkConfigLoader.ScanDirectoryAsync(_dir.Path));
            var ok = await Bounded(() => NetworkConfigLoader.LoadNetworkAsync(_dir.Path, "ok"));
            var loaded = await Assert.ThrowsAsync<CniConfigException>(() => Bounded(() => NetworkConfigLoader.LoadFileAsync(path)));

            Assert.Equal(["ok"], scan.Networks.Select(n => n.Name));
            Assert.Equal("ok", ok.Name);
            var diagnostic = Assert.Single(scan.Diagnostics);
            Assert.Equal((path, null, ConfigDiagnosticKind.Unreadable), (diagnostic.File, diagnostic.NetworkName, diagnostic.Kind));
            Assert.Equal(CniErrorCode.IoFailure, diagnostic.Error.Code);
            Assert.Equal(expected, diagnostic.Message);
            Assert.Null(diagnostic.Error.JsonPath);
            Assert.Equal((expected, CniErrorCode.IoFailure, path), (loaded.Message, loaded.Code, loaded.File));
        }

        [Fact]
        public async Task A_missing_file_is_an_io_failure_naming_it()
        {
            var path = _dir.Combine("missing.conflist");

            var error = await Assert.ThrowsAsync<CniConfigException>(() => NetworkConfigLoader.LoadFileAsync(path));

            Assert.Equal($"{path}: cannot read file: No such file or directory", error.Message);
            Assert.Equal(CniErrorCode.IoFailure, error.Code);
            Assert.Equal(path, error.File);
            Assert.Null(error.JsonPath);
        }

        [Fact]
        public async Task A_directory_given_as_the_file_is_not_a_regular_file()
        {
            var path = Directory.CreateDirectory(_dir.Combine("10-dir.conflist")).FullName;

            var error = await Assert.ThrowsAsync<CniConfigException>(() => NetworkConfigLoader.LoadFileAsync(path));

            Assert.Equal($"{path}: cannot read file: it is a directory, not a regular file", error.Message);
            Assert.Equal(CniErrorCode.IoFailure, error.Code);
        }

        [Fact]
        public async Task A_fifo_among_the_plugin_files_names_that_file()
        {
            _dir.File("net.conflist", """{"cniVersion":"1.1.0","name":"net","plugins":[{"type":"bridge"}]}""");
            var fifo = _dir.Combine("net", "10-fifo.conf");
            Directory.CreateDirectory(_dir.Combine("net"));
            await PlantAsync("fifo", fifo);

            var error = await Assert.ThrowsAsync<CniConfigException>(() => Bounded(() => NetworkConfigLoader.LoadFileAsync(_dir.Combine("net.conflist"))));

            Assert.Equal($"{fifo}: cannot read file: it is a FIFO, not a regular file", error.Message);
            Assert.Equal(CniErrorCode.IoFailure, error.Code);
        }

        [Fact]
        public async Task A_link_to_a_configuration_is_read_through_as_libcni_does()
        {
            var target = _dir.File("elsewhere/net.json", List("linked", "ptp"));
            Directory.CreateDirectory(_dir.Combine("conf"));
            File.CreateSymbolicLink(_dir.Combine("conf", "10-linked.conflist"), target);

            var list = await NetworkConfigLoader.LoadNetworkAsync(_dir.Combine("conf"), "linked");

            Assert.Equal("ptp", list.Plugins[0].Type);
        }

        // Files are read synchronously: off the test's thread, a read that hangs fails the test instead of the run.
        private static Task<T> Bounded<T>(Func<Task<T>> load) => Task.Run(load).WaitAsync(TimeSpan.FromSeconds(10));

        // Plants an unreadable file of the given kind at path; returns the reason the loader must give.
        private async Task<string> PlantAsync(string kind, string path)
        {
            switch (kind)
            {
                case "dangling link":
                    File.CreateSymbolicLink(path, _dir.Combine("nowhere"));
                    return "cannot read file: No such file or directory";
                case "too large":
                    using (var stream = File.Create(path))
                    {
                        stream.SetLength(NetworkConfigLoader.MaxFileBytes + 1L);
                    }

                    return "file is 4194305 bytes; configurations larger than 4194304 bytes are refused";
                case "fifo":
                    using (var mkfifo = System.Diagnostics.Process.Start("mkfifo", path))
                    {
                        await mkfifo.WaitForExitAsync();
                        Assert.Equal(0, mkfifo.ExitCode);
                    }

                    return "cannot read file: it is a FIFO, not a regular file";
                case "link to /dev/zero":
                    File.CreateSymbolicLink(path, "/dev/zero");
                    return "cannot read file: it is a character device, not a regular file";
                default:
                    throw new ArgumentOutOfRangeException(nameof(kind), kind, null);
            }
        }
    }
}
