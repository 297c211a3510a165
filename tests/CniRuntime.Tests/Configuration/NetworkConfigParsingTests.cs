using System.Text;
using System.Text.Json.Nodes;
using CniRuntime.Configuration;
using CniRuntime.Protocol;
using CniRuntime.Tests.Support;

namespace CniRuntime.Tests.Configuration;

/// <summary>libcni's conf_test checklist: version selection, flags, plugins, injection.</summary>
public sealed class NetworkConfigParsingTests
{
    private static NetworkConfigList Parse(string json) => NetworkConfigList.Parse(Encoding.UTF8.GetBytes(json));

    [Theory]
    [InlineData("""{"name":"n","cniVersions":["0.4.0","1.0.0","0.3.1"],"plugins":[{"type":"x"}]}""", "1.0.0")]
    [InlineData("""{"name":"n","cniVersions":["1.0.0","99.0.0"],"plugins":[{"type":"x"}]}""", "1.0.0")]
    [InlineData("""{"name":"n","cniVersions":["1.1.0","1.2.0"],"plugins":[{"type":"x"}]}""", "1.1.0")]
    [InlineData("""{"name":"n","cniVersion":"1.2.3","plugins":[{"type":"x"}]}""", "1.2.3")]
    [InlineData("""{"name":"n","cniVersion":"1.0.0","cniVersions":["0.4.0"],"plugins":[{"type":"x"}]}""", "1.0.0")]
    [InlineData("""{"name":"n","cniVersion":"0.3.1","cniVersions":["0.4.0"],"plugins":[{"type":"x"}]}""", "0.4.0")]
    [InlineData("""{"name":"n","cniVersion":"99.0.0","cniVersions":["0.4.0"],"plugins":[{"type":"x"}]}""", "0.4.0")]
    [InlineData("""{"name":"n","cniVersions":[],"plugins":[{"type":"x"}]}""", "")]
    [InlineData("""{"name":"n","plugins":[{"type":"x"}]}""", "")]
    public void The_list_version_is_the_highest_supported_of_cniVersion_and_cniVersions(string json, string expected)
    {
        Assert.Equal(expected, Parse(json).CniVersion);
    }

    [Fact]
    public void An_empty_version_means_010()
    {
        Assert.Equal(CniVersion.V010, Parse("""{"name":"n","plugins":[{"type":"x"}]}""").GetVersion());
    }

    [Fact]
    public void An_unparsable_list_version_is_reported_when_used_with_the_file_and_path()
    {
        var list = NetworkConfigList.Parse("""{"name":"n","cniVersion":"broken","plugins":[{"type":"x"}]}"""u8, "/etc/cni/net.d/n.conflist");

        var error = Assert.Throws<CniConfigException>(() => list.GetVersion());

        Assert.Equal("/etc/cni/net.d/n.conflist: $.cniVersion: invalid cniVersion \"broken\": expected major.minor.patch", error.Message);
        Assert.Equal(CniErrorCode.IncompatibleCniVersion, error.Code);
    }

    [Theory]
    [InlineData("true", true)]
    [InlineData("false", false)]
    [InlineData("\"true\"", true)]
    [InlineData("\"false\"", false)]
    [InlineData("\"TRUE\"", true)]
    [InlineData("\"False\"", false)]
    [InlineData("\"tRuE\"", true)]
    [InlineData("\"FALSE\"", false)]
    public void Flags_accept_booleans_and_the_strings_true_and_false(string value, bool expected)
    {
        var list = Parse($$"""{"name":"n","disableCheck":{{value}},"disableGC":{{value}},"loadOnlyInlinedPlugins":{{value}},"plugins":[{"type":"x"}]}""");

        Assert.Equal(expected, list.DisableCheck);
        Assert.Equal(expected, list.DisableGC);
        Assert.Equal(expected, list.LoadOnlyInlinedPlugins);
    }

    [Theory]
    [InlineData("\" true\"", "invalid value \" true\" for disableCheck")]
    [InlineData("\"true \"", "invalid value \"true \" for disableCheck")]
    [InlineData("\"true\\u0000\"", "invalid value \"true\\u0000\" for disableCheck")]
    [InlineData("\"\"", "invalid value \"\" for disableCheck")]
    [InlineData("\"1\"", "invalid value \"1\" for disableCheck")]
    [InlineData("\"yes\"", "invalid value \"yes\" for disableCheck")]
    [InlineData("\"t\"", "invalid value \"t\" for disableCheck")]
    [InlineData("\"fal\u017Fe\"", "invalid value \"fal\u017Fe\" for disableCheck")]
    public void Flags_accept_no_other_string_than_true_and_false_in_any_case(string value, string expected)
    {
        var json = $$"""{"name":"n","disableCheck":{{value}},"plugins":[{"type":"x"}]}""";

        var error = Assert.Throws<CniConfigException>(() => NetworkConfigList.Parse(Encoding.UTF8.GetBytes(json), "n.conflist"));

        Assert.Equal("n.conflist: $.disableCheck: " + expected, error.Message);
        Assert.Equal("$.disableCheck", error.JsonPath);
        Assert.Equal(CniErrorCode.InvalidNetworkConfig, error.Code);
    }

    [Fact]
    public void Flags_default_to_false()
    {
        var list = Parse("""{"name":"n","plugins":[{"type":"x"}]}""");

        Assert.False(list.DisableCheck);
        Assert.False(list.DisableGC);
        Assert.False(list.LoadOnlyInlinedPlugins);
    }

    [Fact]
    public void Unknown_keys_nulls_and_number_precision_reach_the_plugin_untouched()
    {
        const string Plugin = """{"type":"acme","big":12345678901234567890,"ratio":0.1,"nothing":null,"nested":{"a":[1,"b",{"c":true}]},"html":"<&>"}""";

        var list = Parse($$"""{"name":"n","cniVersion":"1.0.0","plugins":[{{Plugin}}]}""");

        Assert.Equal(Plugin, list.Plugins[0].Json.GetRawText());
        Assert.Equal(Plugin, Encoding.UTF8.GetString(list.Plugins[0].ToUtf8Bytes()));
    }

    [Fact]
    public void The_typed_views_read_capabilities_ipam_type_dns_name_and_version()
    {
        var list = Parse("""
            {"name":"n","plugins":[{"type":"bridge","name":"own","cniVersion":"0.4.0",
              "capabilities":{"portMappings":true,"bandwidth":false},"ipam":{"type":"host-local"},
              "dns":{"nameservers":["10.1.0.1","fd00::1"],"domain":"cluster.local","search":["ns.svc.cluster.local","svc.cluster.local"],"options":["ndots:5","edns0"]}},
              {"type":"portmap"}]}
            """);
        var plugin = list.Plugins[0];

        Assert.Equal("bridge", plugin.Type);
        Assert.Equal("own", plugin.Name);
        Assert.Equal("0.4.0", plugin.CniVersion);
        Assert.Equal("host-local", plugin.IpamType);
        Assert.Equal(2, plugin.Capabilities.Count);
        Assert.False(plugin.Capabilities["bandwidth"]);
        Assert.Equal(["portMappings"], plugin.EnabledCapabilities);
        Assert.Equal<string>(["10.1.0.1", "fd00::1"], plugin.Dns!.Nameservers);
        Assert.Equal("cluster.local", plugin.Dns.Domain);
        Assert.Equal<string>(["ns.svc.cluster.local", "svc.cluster.local"], plugin.Dns.Search);
        Assert.Equal<string>(["ndots:5", "edns0"], plugin.Dns.Options);
        Assert.Null(list.Plugins[1].Dns);
    }

    [Fact]
    public void A_dns_object_with_some_fields_leaves_the_others_empty()
    {
        var plugin = PluginConfig.Parse("""{"type":"bridge","dns":{"nameservers":["8.8.8.8"]}}"""u8);

        Assert.Equal(new CniDns { Nameservers = ["8.8.8.8"] }, plugin.Dns);
        Assert.Null(plugin.Dns!.Domain);
        Assert.Empty(plugin.Dns.Search);
        Assert.Empty(plugin.Dns.Options);
    }

    [Theory]
    [InlineData("""{"type":"bridge","dns":["8.8.8.8"]}""", "x.conf: $.dns: expected an object, got an array")]
    [InlineData("""{"type":"bridge","dns":{"domain":7}}""", "x.conf: $.dns.domain: expected a string, got a number")]
    [InlineData("""{"type":"bridge","dns":{"search":"a.example"}}""", "x.conf: $.dns.search: expected an array of strings, got a string")]
    [InlineData("""{"type":"bridge","dns":{"options":["ndots:5",5]}}""", "x.conf: $.dns.options[1]: expected a string, got a number")]
    public void A_malformed_dns_object_names_the_file_and_path(string json, string expected)
    {
        var error = Assert.Throws<CniConfigException>(() => PluginConfig.Parse(Encoding.UTF8.GetBytes(json), "x.conf"));

        Assert.Equal(expected, error.Message);
        Assert.Equal(CniErrorCode.InvalidNetworkConfig, error.Code);
    }

    [Fact]
    public void The_original_bytes_are_kept_for_the_cache_without_a_bom()
    {
        var text = """{"name":"n", "plugins":[ {"type":"x"} ]}""";
        var withBom = Encoding.UTF8.Preamble.ToArray().Concat(Encoding.UTF8.GetBytes(text)).ToArray();

        var list = NetworkConfigList.Parse(withBom);

        Assert.Equal(text, Encoding.UTF8.GetString(list.Bytes.Span));
    }

    [Fact]
    public void A_single_plugin_configuration_becomes_a_one_plugin_list()
    {
        var plugin = PluginConfig.Parse("""{"cniVersion":"0.3.1","name":"legacy","type":"bridge","bridge":"cni0"}"""u8);

        var list = NetworkConfigList.FromPlugin(plugin);

        Assert.Equal("legacy", list.Name);
        Assert.Equal("0.3.1", list.CniVersion);
        Assert.Equal(plugin, Assert.Single(list.Plugins));
        var reparsed = NetworkConfigList.Parse(list.Bytes.Span);
        Assert.Equal(plugin, Assert.Single(reparsed.Plugins));
        Assert.Equal("legacy", reparsed.Name);
    }

    [Fact]
    public void Plugin_parsing_requires_type_with_libcnis_words()
    {
        var error = Assert.Throws<CniConfigException>(() => PluginConfig.Parse("""{"name":"x"}"""u8, "x.conf"));

        Assert.Equal("x.conf: $.type: missing 'type'", error.Message);
    }

    public sealed class Injection
    {
        private static readonly PluginConfig Original = PluginConfig.Parse("""{"type":"bridge","name":"n","mtu":1500,"ipam":{"type":"host-local"}}"""u8);

        [Fact]
        public void A_new_key_is_appended_and_the_original_is_untouched()
        {
            var injected = Original.With("runtimeConfig", new JsonObject { ["portMappings"] = new JsonArray() });

            Assert.Equal("""{"type":"bridge","name":"n","mtu":1500,"ipam":{"type":"host-local"},"runtimeConfig":{"portMappings":[]}}""", injected.Json.GetRawText());
            Assert.Equal("""{"type":"bridge","name":"n","mtu":1500,"ipam":{"type":"host-local"}}""", Original.Json.GetRawText());
        }

        [Fact]
        public void An_existing_key_is_replaced_in_place()
        {
            var injected = Original.With("mtu", JsonValue.Create(9000));

            Assert.Equal("""{"type":"bridge","name":"n","mtu":9000,"ipam":{"type":"host-local"}}""", injected.Json.GetRawText());
        }

        [Fact]
        public void Injecting_the_same_key_twice_is_idempotent()
        {
            var once = Original.With("dns", new JsonObject { ["nameservers"] = new JsonArray("10.0.0.53") });
            var twice = once.With("dns", new JsonObject { ["nameservers"] = new JsonArray("10.0.0.53") });

            Assert.Equal(once.Json.GetRawText(), twice.Json.GetRawText());
        }

        [Fact]
        public void The_type_can_be_replaced_and_the_typed_view_follows()
        {
            var injected = Original.With("type", JsonValue.Create("ptp"));

            Assert.Equal("ptp", injected.Type);
        }

        [Fact]
        public void An_empty_key_is_refused()
        {
            var error = Assert.Throws<CniException>(() => Original.With(string.Empty, JsonValue.Create(1)));

            Assert.Equal("keys cannot be empty", error.Message);
        }

        [Fact]
        public void A_null_value_is_refused()
        {
            var error = Assert.Throws<CniException>(() => Original.With("mtu", null));

            Assert.Equal("key 'mtu' value must not be nil", error.Message);
        }

        [Fact]
        public void A_type_made_invalid_is_refused()
        {
            var error = Assert.Throws<CniConfigException>(() => Original.With("type", JsonValue.Create(7)));

            Assert.Equal("$.type: expected a string, got a number", error.Message);
        }

        [Fact]
        public void A_copy_made_invalid_names_the_file_and_place_of_the_original()
        {
            var list = NetworkConfigList.Parse("""{"name":"n","plugins":[{"type":"bridge"},{"type":"portmap"}]}"""u8, "/etc/cni/net.d/n.conflist");

            var error = Assert.Throws<CniConfigException>(() => list.Plugins[1].With("capabilities", JsonValue.Create("all")));

            Assert.Equal("/etc/cni/net.d/n.conflist: $.plugins[1].capabilities: expected an object of booleans, got a string", error.Message);
            Assert.Equal("/etc/cni/net.d/n.conflist", error.File);
        }
    }

    [Fact]
    public async Task A_huge_file_is_refused_before_it_is_read()
    {
        using var dir = new TempDirectory();
        var path = dir.Combine("huge.conflist");
        using (var stream = File.Create(path))
        {
            stream.SetLength(NetworkConfigLoader.MaxFileBytes + 1L);
        }

        var error = await Assert.ThrowsAsync<CniConfigException>(() => NetworkConfigLoader.LoadFileAsync(path));

        Assert.Equal(CniErrorCode.IoFailure, error.Code);
        Assert.Equal(path + ": file is 4194305 bytes; configurations larger than 4194304 bytes are refused", error.Message);
    }

    [Fact]
    public void Deeply_nested_input_is_an_error_not_a_crash()
    {
        var json = "{\"name\":\"n\",\"plugins\":[{\"type\":\"x\",\"deep\":" + new string('[', 5000) + new string(']', 5000) + "}]}";

        var error = Assert.Throws<CniConfigException>(() => Parse(json));

        Assert.Equal(CniErrorCode.DecodingFailure, error.Code);
    }

    [Theory]
    [InlineData(new byte[] { (byte)'{', (byte)'"', 0xff, 0xfe, (byte)'"', (byte)':', (byte)'1', (byte)'}' })]
    [InlineData(new byte[] { (byte)'{', (byte)'"', (byte)'n', (byte)'a', (byte)'m', (byte)'e', (byte)'"', (byte)':', (byte)'"', 0xc3, (byte)'"', (byte)'}' })]
    public void A_config_that_is_not_utf8_is_a_decoding_error_not_a_crash(byte[] bytes)
    {
        var error = Assert.Throws<CniConfigException>(() => NetworkConfigList.Parse(bytes));

        Assert.Equal("error parsing configuration list: the document is not valid UTF-8", error.Message);
        Assert.Equal(CniErrorCode.DecodingFailure, error.Code);
    }
}
