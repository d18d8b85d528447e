#include "runtime/providers/provider_config.hpp"

#include <doctest/doctest.h>

#include <map>
#include <string>

#include "runtime/providers/presets.hpp"

using namespace perdiem;
using namespace perdiem::providers;

namespace {

using EnvMap = std::map<std::string, std::string>;

GetEnv fake_env(EnvMap vars) {
  return [vars = std::move(vars)](const std::string& name) -> std::optional<std::string> {
    auto it = vars.find(name);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

ProviderSettings flags(std::string provider = {}, std::string base_url = {},
                       std::string model = {}) {
  ProviderSettings settings;
  settings.provider = std::move(provider);
  settings.base_url = std::move(base_url);
  settings.model = std::move(model);
  return settings;
}

Result<ProviderChoice> resolve(const ProviderSettings& settings, EnvMap vars) {
  return resolve_provider(settings, fake_env(std::move(vars)));
}

}  // namespace

TEST_CASE("presets cover the documented providers") {
  for (const char* name : {"openrouter", "venice", "chutes", "together", "fireworks", "groq",
                           "deepinfra", "openai", "anthropic", "ollama", "llamacpp"}) {
    CAPTURE(name);
    const Preset* preset = find_preset(name);
    REQUIRE(preset != nullptr);
    CHECK_FALSE(preset->default_model.empty());
    CHECK(preset->local == preset->key_env.empty());
  }
  CHECK(find_preset("openrouter")->base_url == "https://openrouter.ai/api/v1");
  CHECK(find_preset("openrouter")->key_env == "OPENROUTER_API_KEY");
  CHECK(find_preset("ollama")->base_url == "http://127.0.0.1:11434/v1");
  CHECK(find_preset("nope") == nullptr);
  CHECK(all_presets().size() == 11);
  CHECK(find_preset("anthropic")->api == ApiStyle::anthropic);
  CHECK(find_preset("anthropic")->key_env == "ANTHROPIC_API_KEY");
  for (const Preset& preset : all_presets()) {
    if (preset.name != "anthropic") CHECK(preset.api == ApiStyle::openai);
  }
}

TEST_CASE("resolve_provider precedence table") {
  struct Row {
    const char* what;
    ProviderSettings settings;
    EnvMap env;
    const char* name;
    const char* reason;
    const char* base_url;
    const char* model;
    const char* key;  // the key expected in the choice
  };
  const Row rows[] = {
      {"nothing set", flags(), {}, "sim", "default", "", "sim-1", ""},
      {"OPENROUTER_API_KEY alone",
       flags(),
       {{"OPENROUTER_API_KEY", "or-k"}},
       "openrouter",
       "environment",
       "https://openrouter.ai/api/v1",
       "meta-llama/llama-3.3-70b-instruct",
       "or-k"},
      {"PERDIEM_PROVIDER",
       flags(),
       {{"PERDIEM_PROVIDER", "groq"}, {"GROQ_API_KEY", "g-k"}},
       "groq",
       "environment",
       "https://api.groq.com/openai/v1",
       "llama-3.3-70b-versatile",
       "g-k"},
      {"flag beats environment",
       flags("venice"),
       {{"PERDIEM_PROVIDER", "groq"}, {"VENICE_API_KEY", "v-k"}, {"GROQ_API_KEY", "g-k"}},
       "venice",
       "flag",
       "https://api.venice.ai/api/v1",
       "llama-3.3-70b",
       "v-k"},
      {"flag sim beats OPENROUTER_API_KEY",
       flags("sim"),
       {{"OPENROUTER_API_KEY", "or-k"}},
       "sim",
       "flag",
       "",
       "sim-1",
       ""},
      {"flag base URL alone is custom",
       flags("", "http://127.0.0.1:9/v1/"),
       {{"PERDIEM_API_KEY", "p-k"}, {"OPENROUTER_API_KEY", "or-k"}},
       "custom",
       "flag",
       "http://127.0.0.1:9/v1",
       "sim-1",
       "p-k"},
      {"environment base URL alone is custom",
       flags(),
       {{"PERDIEM_BASE_URL", "http://localhost:1234/v1"}},
       "custom",
       "environment",
       "http://localhost:1234/v1",
       "sim-1",
       ""},
      {"base URL overrides a preset's",
       flags("openrouter", "http://127.0.0.1:5/v1"),
       {{"OPENROUTER_API_KEY", "or-k"}},
       "openrouter",
       "flag",
       "http://127.0.0.1:5/v1",
       "meta-llama/llama-3.3-70b-instruct",
       "or-k"},
      {"environment base URL overrides a flag preset's",
       flags("ollama"),
       {{"PERDIEM_BASE_URL", "http://10.0.0.2:11434/v1"}},
       "ollama",
       "flag",
       "http://10.0.0.2:11434/v1",
       "llama3.2",
       ""},
      {"local preset needs no key",
       flags("llamacpp"),
       {},
       "llamacpp",
       "flag",
       "http://127.0.0.1:8080/v1",
       "default",
       ""},
      {"local preset takes PERDIEM_API_KEY",
       flags("ollama"),
       {{"PERDIEM_API_KEY", "p-k"}},
       "ollama",
       "flag",
       "http://127.0.0.1:11434/v1",
       "llama3.2",
       "p-k"},
      {"flag model beats all",
       flags("groq", "", "flag-model"),
       {{"PERDIEM_MODEL", "env-model"}, {"GROQ_API_KEY", "g"}},
       "groq",
       "flag",
       "https://api.groq.com/openai/v1",
       "flag-model",
       "g"},
      {"environment model beats preset",
       flags("groq"),
       {{"PERDIEM_MODEL", "env-model"}, {"GROQ_API_KEY", "g"}},
       "groq",
       "flag",
       "https://api.groq.com/openai/v1",
       "env-model",
       "g"},
      {"sim takes a model",
       flags(),
       {{"PERDIEM_MODEL", "sim-2"}},
       "sim",
       "default",
       "",
       "sim-2",
       ""},
      {"preset key beats PERDIEM_API_KEY",
       flags("together"),
       {{"TOGETHER_API_KEY", "t-k"}, {"PERDIEM_API_KEY", "p-k"}},
       "together",
       "flag",
       "https://api.together.xyz/v1",
       "meta-llama/Llama-3.3-70B-Instruct-Turbo",
       "t-k"},
      {"PERDIEM_API_KEY serves a preset without its own",
       flags("fireworks"),
       {{"PERDIEM_API_KEY", "p-k"}},
       "fireworks",
       "flag",
       "https://api.fireworks.ai/inference/v1",
       "accounts/fireworks/models/llama-v3p3-70b-instruct",
       "p-k"},
      {"empty variables count as unset",
       flags(),
       {{"PERDIEM_PROVIDER", ""}, {"OPENROUTER_API_KEY", ""}, {"PERDIEM_MODEL", ""}},
       "sim",
       "default",
       "",
       "sim-1",
       ""},
      {"names are case-insensitive",
       flags("OpenRouter"),
       {{"OPENROUTER_API_KEY", "k"}},
       "openrouter",
       "flag",
       "https://openrouter.ai/api/v1",
       "meta-llama/llama-3.3-70b-instruct",
       "k"},
  };
  for (const Row& row : rows) {
    CAPTURE(row.what);
    auto choice = resolve(row.settings, row.env);
    REQUIRE_MESSAGE(choice.ok(), choice.error().message);
    CHECK(choice->name == row.name);
    CHECK(choice->reason == row.reason);
    CHECK(choice->base_url == row.base_url);
    CHECK(choice->model == row.model);
    CHECK(choice->api_key.view() == row.key);
  }
}

TEST_CASE("resolve_provider ignores the environment when told to") {
  ProviderSettings settings = flags();
  settings.use_environment = false;
  auto choice =
      resolve(settings,
              {{"OPENROUTER_API_KEY", "k"}, {"PERDIEM_PROVIDER", "groq"}, {"PERDIEM_MODEL", "m"}});
  REQUIRE(choice.ok());
  CHECK(choice->name == "sim");
  CHECK(choice->reason == "default");
  CHECK(choice->model == "sim-1");

  settings.provider = "openrouter";
  auto keyless = resolve(settings, {{"OPENROUTER_API_KEY", "k"}});
  REQUIRE_FALSE(keyless.ok());
  CHECK(keyless.error().kind == ErrorKind::config);
  CHECK(keyless.error().message.find("use_environment") != std::string::npos);
}

TEST_CASE("resolve_provider passes the sim seed through") {
  ProviderSettings settings = flags();
  settings.sim_seed = 99;
  auto choice = resolve(settings, {});
  REQUIRE(choice.ok());
  CHECK(choice->sim_seed == 99);
}

TEST_CASE("resolve_provider rejects an unknown provider, listing the known ones") {
  auto choice = resolve(flags("openrouterr"), {});
  REQUIRE_FALSE(choice.ok());
  CHECK(choice.error().kind == ErrorKind::config);
  CHECK(choice.error().message.find("openrouterr") != std::string::npos);
  for (const char* known : {"sim", "openrouter", "groq", "ollama", "llamacpp"}) {
    CHECK(choice.error().message.find(known) != std::string::npos);
  }
  auto from_env = resolve(flags(), {{"PERDIEM_PROVIDER", "bogus"}});
  REQUIRE_FALSE(from_env.ok());
  CHECK(from_env.error().kind == ErrorKind::config);
}

TEST_CASE("resolve_provider names the missing key variable, never a key") {
  auto choice = resolve(flags("openrouter"), {{"GROQ_API_KEY", "groq-secret"}});
  REQUIRE_FALSE(choice.ok());
  CHECK(choice.error().kind == ErrorKind::config);
  CHECK(choice.error().message.find("set OPENROUTER_API_KEY") != std::string::npos);
  CHECK(choice.error().message.find("groq-secret") == std::string::npos);

  auto from_env = resolve(flags(), {{"PERDIEM_PROVIDER", "deepinfra"}});
  REQUIRE_FALSE(from_env.ok());
  CHECK(from_env.error().message.find("DEEPINFRA_API_KEY") != std::string::npos);
}

TEST_CASE("resolve_provider rejects custom without a URL and non-HTTP URLs") {
  auto custom = resolve(flags("custom"), {});
  REQUIRE_FALSE(custom.ok());
  CHECK(custom.error().kind == ErrorKind::config);
  CHECK(custom.error().message.find("PERDIEM_BASE_URL") != std::string::npos);

  auto file_url = resolve(flags("", "file:///etc/passwd"), {});
  REQUIRE_FALSE(file_url.ok());
  CHECK(file_url.error().kind == ErrorKind::config);
}

TEST_CASE("resolve_provider records which variable the key belongs to") {
  auto own = resolve(flags("groq"), {{"GROQ_API_KEY", "g"}});
  REQUIRE(own.ok());
  CHECK(own->key_env == "GROQ_API_KEY");
  auto generic = resolve(flags("groq"), {{"PERDIEM_API_KEY", "p"}});
  REQUIRE(generic.ok());
  CHECK(generic->key_env == "PERDIEM_API_KEY");
  auto custom = resolve(flags("", "http://127.0.0.1:1/v1"), {});
  REQUIRE(custom.ok());
  CHECK(custom->key_env == "PERDIEM_API_KEY");
  CHECK(resolve(flags(), {})->key_env.empty());
}

TEST_CASE("make_provider builds sim or an OpenAI-compatible provider") {
  auto sim = resolve(flags(), {});
  REQUIRE(sim.ok());
  auto sim_provider = make_provider(std::move(sim).value(), nullptr);
  CHECK(sim_provider->name() == "sim");
  auto reply = sim_provider->chat(ChatRequest{"", {{"user", "reply with exactly: ok"}}, {}, {}});
  REQUIRE(reply.ok());
  CHECK(reply->content == "ok");

  auto hosted = resolve(flags("openrouter"), {{"OPENROUTER_API_KEY", "k"}});
  REQUIRE(hosted.ok());
  CHECK(make_provider(std::move(hosted).value(), nullptr)->name() == "openrouter");
}

TEST_CASE("process_environment reads the process environment") {
  const GetEnv env = process_environment();
  CHECK(env("PERDIEM_TEST_SURELY_UNSET_VARIABLE_0xC0FFEE") == std::nullopt);
  CHECK(env("PATH").has_value());
}
