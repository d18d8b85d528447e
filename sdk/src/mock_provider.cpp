// perdiem::MockProvider, the public face of providers::MockServer.
#include "perdiem/mock_provider.hpp"

#include <utility>

#include "runtime/providers/mock_scenario.hpp"
#include "runtime/providers/mock_server.hpp"

namespace perdiem {

namespace {

class MockProviderImpl final : public MockProvider {
 public:
  explicit MockProviderImpl(std::unique_ptr<providers::MockServer> server)
      : server_(std::move(server)) {}

  std::uint16_t port() const override { return server_->port(); }
  std::string base_url() const override { return server_->base_url(); }
  std::uint64_t requests_served() const override { return server_->requests_served(); }
  std::uint64_t requests_with_status(int status) const override {
    return server_->requests_with_status(status);
  }
  void wait() override { server_->wait(); }
  void stop() override { server_->stop(); }

 private:
  std::unique_ptr<providers::MockServer> server_;
};

}  // namespace

MockProvider::~MockProvider() = default;

Result<MockProviderOptions> mock_scenario_from_json(std::string_view json,
                                                    MockProviderOptions base) {
  return providers::mock::scenario_from_json(json, std::move(base));
}

Result<std::unique_ptr<MockProvider>> MockProvider::start(MockProviderOptions options) {
  auto server = providers::MockServer::start(options);
  if (!server) return server.error();
  return std::unique_ptr<MockProvider>(
      std::make_unique<MockProviderImpl>(std::move(server).value()));
}

}  // namespace perdiem
