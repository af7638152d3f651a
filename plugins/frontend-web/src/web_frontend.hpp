// frontend-web: a peer's web page and its HTTP API (docs/web-api.md) on Poco::Net's HTTP
// server. Like every frontend it speaks to the kernel only through the control service.
//
// Start (reactor): bind the listener (a taken port fails start at once), subscribe to the
// events, and ask `status` for the state dir; its answer loads or creates the access token,
// starts the HTTP server and logs the URL. Stop (reactor): close the context (streams and
// waiting commands end), stop the server, join its pool — no thread waits on the reactor.
#pragma once

#include "web_context.hpp"

#include <lanspread/kinds/frontend.hpp>

#include <memory>

namespace lanspread::plugins::web {

class WebRuntime; // web_frontend.cpp

class WebSession : public FrontendSession {
  public:
    explicit WebSession(std::shared_ptr<WebRuntime> runtime) : _runtime(std::move(runtime)) {}
    ~WebSession() override;

  private:
    std::shared_ptr<WebRuntime> _runtime;
};

class WebFrontend : public FrontendPlugin {
  public:
    explicit WebFrontend(Host host); // reads the config; a bad listen or www_dir throws
    Result<std::unique_ptr<FrontendSession>> start() override;

    const WebSettings &settings() const { return _settings; }

  private:
    WebSettings _settings;
};

// The page files' default folder: share/lanspread/www in the nearest ancestor of the folder the
// plugin was loaded from that has one (<prefix>/lib[/<triplet>]/lanspread/plugins/ installed,
// <build>/lib/lanspread/plugins/ in a build tree), or "" when none has.
std::string defaultWwwDir();

} // namespace lanspread::plugins::web
