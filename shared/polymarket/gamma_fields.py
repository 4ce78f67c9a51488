"""Fields Gamma is known to send beyond those its wire models use (gamma.py), from captured responses
(Polymarket"s rust test data, 2025-2026) and the fields the paper exchange serves. A field outside these
and the models is counted as a venue change (venue_changes.py)."""

from __future__ import annotations

MARKET_FIELDS = frozenset({
    "acceptingOrders", "acceptingOrdersTimestamp", "active", "approved", "archived", "automaticallyActive",
    "automaticallyResolved", "bestAsk", "bestBid", "category", "clearBookOnStart", "clobRewards",
    "clobTokenIds", "closed", "closedTime", "commentCount", "competitive", "conditionId", "createdAt",
    "creationDate", "creator", "customLiveness", "cyom", "deploying", "deployingTimestamp", "description",
    "enableNegRisk", "enableOrderBook", "endDate", "endDateIso", "eventStartTime", "events", "featured",
    "feeSchedule", "feeType", "feesEnabled", "fpmmLive", "funded", "gameId", "gameStartTime",
    "groupItemThreshold", "groupItemTitle", "hasReviewedDates", "holdingRewardsEnabled", "icon", "id",
    "image", "label", "lastTradePrice", "line", "liquidity", "liquidityAmm", "liquidityClob",
    "liquidityNum", "lowerBound", "mailchimpTag", "makerBaseFee", "makerRebatesFeeShareBps",
    "manualActivation", "marketMakerAddress", "marketType", "markets", "negRisk", "negRiskAugmented",
    "negRiskMarketID", "negRiskOther", "negRiskRequestID", "new", "oneDayPriceChange", "oneHourPriceChange",
    "oneMonthPriceChange", "oneWeekPriceChange", "oneYearPriceChange", "openInterest", "orderMinSize",
    "orderPriceMinTickSize", "outcomePrices", "outcomes", "pagerDutyNotificationEnabled",
    "pendingDeployment", "question", "questionID", "ready", "readyForCron", "rebateRate",
    "requiresTranslation", "resolutionSource", "resolvedBy", "restricted", "rewardsMaxSpread",
    "rewardsMinSize", "rfqEnabled", "secondsDelay", "seriesColor", "showAllOutcomes", "showGmpOutcome",
    "showGmpSeries", "showMarketImages", "slug", "sportsMarketType", "spread", "startDate", "startDateIso",
    "submitted_by", "tags", "takerBaseFee", "takerOnly", "ticker", "title", "twitterCardImage", "umaBond",
    "umaEndDate", "umaResolutionStatus", "umaResolutionStatuses", "umaReward", "updatedAt", "updatedBy",
    "upperBound", "volume", "volume1mo", "volume1moAmm", "volume1moClob", "volume1wk", "volume1wkAmm",
    "volume1wkClob", "volume1yr", "volume1yrAmm", "volume1yrClob", "volume24hr", "volume24hrClob",
    "volumeClob", "volumeNum"
})

EVENT_REF_FIELDS = frozenset({
    "active", "archived", "automaticallyActive", "automaticallyResolved", "closed", "closedTime",
    "commentCount", "competitive", "createdAt", "creationDate", "cyom", "deploying", "description",
    "enableNegRisk", "enableOrderBook", "endDate", "ended", "eventDate", "eventMetadata", "eventWeek",
    "featured", "gameId", "icon", "id", "image", "liquidity", "liquidityClob", "live", "negRisk",
    "negRiskAugmented", "new", "openInterest", "pendingDeployment", "period", "requiresTranslation",
    "resolutionSource", "restricted", "score", "series", "seriesSlug", "showAllOutcomes",
    "showMarketImages", "slug", "startDate", "startTime", "ticker", "title", "updatedAt", "volume",
    "volume1mo", "volume1wk", "volume1yr", "volume24hr"
})

EVENT_FIELDS = frozenset({
    "acceptingOrders", "active", "archived", "automaticallyActive", "bestAsk", "bestBid", "clobRewards",
    "closed", "commentCount", "competitive", "countryName", "createdAt", "creationDate",
    "cumulativeMarkets", "cyom", "deploying", "deployingTimestamp", "description", "electionType",
    "enableNegRisk", "enableOrderBook", "endDate", "endDateIso", "estimateValue", "featured", "feeSchedule",
    "feeType", "feesEnabled", "funded", "gmpChartMode", "groupItemThreshold", "groupItemTitle",
    "holdingRewardsEnabled", "icon", "id", "image", "label", "lastTradePrice", "liquidity", "liquidityClob",
    "liquidityNum", "makerBaseFee", "marketMakerAddress", "markets", "negRisk", "negRiskAugmented",
    "negRiskMarketID", "negRiskRequestID", "new", "oneDayPriceChange", "oneHourPriceChange",
    "oneMonthPriceChange", "oneWeekPriceChange", "openInterest", "orderMinSize", "orderPriceMinTickSize",
    "pendingDeployment", "questionID", "ready", "rebateRate", "requiresTranslation", "resolutionSource",
    "restricted", "rewardsMaxSpread", "rewardsMinSize", "rfqEnabled", "secondsDelay", "showAllOutcomes",
    "showMarketImages", "slug", "sortBy", "spread", "startDate", "startDateIso", "startTime", "tags",
    "takerBaseFee", "takerOnly", "ticker", "title", "umaResolutionStatus", "updatedAt", "volume",
    "volume1mo", "volume1wk", "volume1yr", "volume24hr", "volume24hrClob", "volumeClob", "volumeNum"
})

TAG_FIELDS = frozenset({
    "createdAt", "createdBy", "forceHide", "forceShow", "id", "isCarousel", "label", "publishedAt",
    "requiresTranslation", "slug", "updatedAt", "updatedBy"
})
