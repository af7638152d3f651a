// frontend-web's HTTP side: one handler per request, made by RequestRouter (Poco's handler
// factory). Every request is checked (Host, Origin, token; request_guard) before it is routed
// to the page files, POST /api/v1/command, GET /api/v1/state or GET /api/v1/events
// (docs/web-api.md). Handlers run on the HTTP server's pool threads and reach the kernel only
// through WebContext (the control service).
#pragma once

#include "web_context.hpp"

#include <Poco/Net/HTTPRequestHandlerFactory.h>

#include <memory>

namespace lanspread::plugins::web {

class RequestRouter : public Poco::Net::HTTPRequestHandlerFactory {
  public:
    explicit RequestRouter(std::shared_ptr<WebContext> context) : _context(std::move(context)) {}
    Poco::Net::HTTPRequestHandler *
    createRequestHandler(const Poco::Net::HTTPServerRequest &request) override;

  private:
    std::shared_ptr<WebContext> _context;
};

} // namespace lanspread::plugins::web
